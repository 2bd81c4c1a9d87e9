// Generic Verilator main for the mase:mx testbenches: toggles `clk` until the SystemVerilog testbench
// calls $finish. The testbench top is named by -CFLAGS -DVTOP=V<top> in the core's sim target.
#include <memory>
#include <verilated.h>
#define MASE_STR2(x) #x
#define MASE_STR(x) MASE_STR2(x)
#include MASE_STR(VTOP.h)

int main(int argc, char** argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<VTOP>(ctx.get());
    top->clk = 0;
    top->eval();
    while (!ctx->gotFinish()) {
        top->clk = !top->clk;
        top->eval();
        ctx->timeInc(1);
    }
    top->final();
    return 0;
}
