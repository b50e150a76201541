// mimalloc: at hundreds of calls a second glibc's malloc spent ~8 % of the
// daemon's CPU (arena locks, consolidation of the per-call recording
// blocks and SIP messages freed on other threads); mimalloc's per-thread
// free lists make those allocations cheap. No unsafe code needed here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hotline::cli::main()
}
