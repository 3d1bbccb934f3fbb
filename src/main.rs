//! `segur`: the command-line entry point. Everything lives in the library ([`segur_gateway::cli`]).

fn main() -> std::process::ExitCode {
    segur_gateway::cli::main()
}
