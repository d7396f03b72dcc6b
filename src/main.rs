//! `vigil`: real-time fraud detection in one supervised process.

use clap::Parser;
use vigil::app;
use vigil::cli::{Cli, Command, FeaturesCommand};
use vigil::config::Config;

/// jemalloc rather than the system allocator: it gives memory freed after
/// the start-up peak (state rebuild, SQLite page caches) back to the
/// system, where glibc's malloc kept it as resident memory.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A configuration error is printed by `main` itself, before logging.
    let config = Config::load(cli.config.as_deref(), cli.overrides.to_layer())?;
    vigil::logging::init(config.log.format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Config => {
            print!("{}", config.to_display_toml());
            Ok(())
        }
        Command::Migrate => {
            actix_web::rt::System::new().block_on(app::migrate(&config))?;
            Ok(())
        }
        Command::Features {
            action: FeaturesCommand::Rebuild,
        } => {
            actix_web::rt::System::new().block_on(app::rebuild_features(&config))?;
            Ok(())
        }
        Command::Train => {
            actix_web::rt::System::new().block_on(app::train(&config))?;
            Ok(())
        }
        Command::Replay(args) => {
            let settings = vigil::replay::ReplaySettings::from_args(&args)?;
            let report =
                actix_web::rt::System::new().block_on(vigil::replay::run(&config, &settings))?;
            println!("{}", vigil::replay::summary(&report));
            Ok(())
        }
        Command::Evaluate(args) => {
            let settings = vigil::evaluate::EvaluateSettings::from_args(&config, &args);
            let report =
                actix_web::rt::System::new().block_on(vigil::evaluate::run(&config, &settings))?;
            if args.json {
                vigil::evaluate::print_json(&report)?;
            } else {
                println!("{}", vigil::evaluate::table(&report));
            }
            Ok(())
        }
        Command::Serve => {
            let system = actix_web::rt::System::new();
            let report = system.block_on(app::serve(config))?;
            if !report.is_clean() {
                // Work is still in flight: exit before the system tears it
                // down.
                std::process::exit(app::EXIT_SHUTDOWN_TIMED_OUT);
            }
            Ok(())
        }
    }
}
