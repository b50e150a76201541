fn main() -> std::process::ExitCode {
    hotline::cli::main()
}
