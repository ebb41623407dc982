//! The `hookdesk` command line.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookdesk::auth::tokens::ApiToken;
use hookdesk::auth::users::NewUserInput;
use hookdesk::auth::{User, password};
use hookdesk::config::{Config, ConfigArgs};
use hookdesk::{audit, db, startup, telemetry};

/// Hookdesk: a self-hosted service-desk webhook integration console.
///
/// Every option can also be set in hookdesk.toml or by the environment variable shown.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web console and the delivery worker (the default when no command is given).
    Serve(ServeArgs),
    /// Run only the delivery worker (with PostgreSQL, any number of workers share the queue).
    Worker,
    /// Measure the delivery engine: deliveries/s and enqueue-to-arrival latency against a
    /// local receiver, on a throwaway SQLite database.
    Bench(hookdesk::bench::BenchArgs),
    /// Measure delivery end to end through the public API: a receiver process and
    /// `hookdesk serve` on a fresh database (SQLite, or PostgreSQL with --database-url),
    /// configured through the JSON API; rule path and fire path at full speed and at a
    /// fixed rate, the raw ceiling, CPU and memory, a noisy neighbour. Table and JSON.
    BenchE2e(hookdesk::bench_e2e::BenchE2eArgs),
    /// The receiver process of bench-e2e (started by bench-e2e itself).
    #[command(hide = true)]
    BenchE2eReceiver {
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
    /// Measure what the trigger rules cost a ticket change (evaluation alone, and the
    /// engine's whole share of a change), on a throwaway SQLite database.
    BenchRules(hookdesk::rules::bench::BenchRulesArgs),
    /// Measure the execution log's filters and export on a seeded log of a million
    /// deliveries, on a throwaway SQLite database.
    BenchLog(hookdesk::execution_log::bench::BenchLogArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Re-encrypt every stored secret under a new master key (one transaction). The
    /// current key is read as `serve` reads it; a key file in use is rewritten afterwards.
    Rekey {
        /// File holding the new key (base64 of 32 bytes); created with a fresh key if absent.
        #[arg(long, value_name = "FILE", required_unless_present = "new_key")]
        new_key_file: Option<std::path::PathBuf>,
        /// The new key, base64 of 32 bytes.
        #[arg(
            long,
            env = "HOOKDESK_NEW_SECRET_KEY",
            hide_env_values = true,
            conflicts_with = "new_key_file"
        )]
        new_key: Option<String>,
    },
    /// Fill an empty database with sample forms, a technician and tickets with history.
    Demo,
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Serve the web console only; run deliveries in `hookdesk worker` processes.
    #[arg(long)]
    no_worker: bool,
    /// Try Hookdesk out: turn on the echo receiver (/_echo/{name}) and let outgoing
    /// requests reach this machine's loopback (127.0.0.1/32 and ::1/128 are added to
    /// allowed_networks), so a first webhook can be sent to Hookdesk itself.
    #[arg(long)]
    demo: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        /// Role to grant; repeat for several (e.g. --role Technician --role Administrator).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Display name [default: the username]
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, default_value = "")]
        email: String,
        /// Mark as an integration user (its changes can be ignored by trigger rules).
        #[arg(long)]
        integration: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password, read from standard input, and end their sessions.
    SetPassword { username: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only this once).
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
    },
}

fn read_password_line() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("Password: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.config)?;
    telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let mut config = Config {
                run_worker: config.run_worker && !args.no_worker,
                ..config
            };
            if args.demo {
                config.echo_receiver = true;
                for net in ["127.0.0.1/32", "::1/128"] {
                    if !config.allowed_networks.iter().any(|n| n == net) {
                        config.allowed_networks.push(net.into());
                    }
                }
                println!(
                    "Demo mode: the echo receiver is on at /_echo/{{name}}, and 127.0.0.1/32 and ::1/128 are allowed for outgoing requests."
                );
            }
            serve(config)
        }
        Command::Worker => worker(config),
        Command::Bench(args) => bench(config, args),
        Command::BenchE2e(args) => bench_e2e(cli.config.database_url.clone(), args),
        Command::BenchE2eReceiver { workers } => hookdesk::bench_e2e::receiver::main(workers),
        Command::BenchRules(args) => hookdesk::rules::bench::run(&config, &args),
        Command::BenchLog(args) => hookdesk::execution_log::bench::run(&config, &args),
        Command::Migrate => {
            let pool = db::connect(&config.database_url, 1)?;
            let mut conn = pool.get()?;
            let n = db::run_migrations(&mut conn)?;
            println!("{n} migration(s) applied");
            Ok(())
        }
        Command::User(cmd) => user_command(&config, cmd),
        Command::Rekey {
            new_key_file,
            new_key,
        } => {
            use hookdesk::secrets::rekey::{NewKey, run};
            let (pool, _) = startup::prepare_database(&config)?;
            let mut conn = pool.get()?;
            let source = match (new_key, new_key_file) {
                (Some(k), _) => NewKey::Base64(hookdesk::config::Secret(k)),
                (None, Some(f)) => NewKey::File(f),
                (None, None) => {
                    anyhow::bail!("give the new key with --new-key-file or HOOKDESK_NEW_SECRET_KEY")
                }
            };
            let msg = run(&config, &mut conn, &audit::Actor::system("cli"), source)?;
            println!("{msg}");
            Ok(())
        }
        Command::Demo => demo(&config),
        Command::Token(TokenCommand::Create { user, name }) => {
            let (pool, _) = startup::prepare_database(&config)?;
            let mut conn = pool.get()?;
            let u = User::find_by_username(&mut conn, &user)?
                .with_context(|| format!("no user named {user}"))?;
            let (_, secret) =
                ApiToken::create(&mut conn, &audit::Actor::system("cli"), u.id, &name)?;
            println!("{secret}");
            Ok(())
        }
    }
}

fn user_command(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (pool, _) = startup::prepare_database(config)?;
    let mut conn = pool.get()?;
    match cmd {
        UserCommand::Create {
            username,
            roles,
            display_name,
            email,
            integration,
            password_stdin,
        } => {
            let (pw, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (password::generate(), true)
            };
            let u = User::create(
                &mut conn,
                &audit::Actor::system("cli"),
                &NewUserInput {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    email,
                    password: pw.clone(),
                    integration,
                    roles,
                },
            )?;
            if generated {
                println!("Created user {} with password: {pw}", u.username);
            } else {
                println!("Created user {}", u.username);
            }
        }
        UserCommand::SetPassword { username } => {
            let u = User::find_by_username(&mut conn, &username)?
                .with_context(|| format!("no user named {username}"))?;
            let pw = read_password_line()?;
            User::reset_password(&mut conn, &audit::Actor::system("cli"), u.id, &pw)?;
            println!(
                "Password of {} changed; their sessions were ended.",
                u.username
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen.clone();
    let app = startup::Application::build(config).await?;
    tracing::info!(%listen, port = app.port(), "Hookdesk is listening");
    println!("Hookdesk is listening on http://{listen}");
    app.run_until_stopped().await?;
    Ok(())
}

fn demo(config: &Config) -> anyhow::Result<()> {
    let (pool, _) = startup::prepare_database(config)?;
    let mut conn = pool.get()?;
    let s = hookdesk::tickets::demo::fill(&mut conn, &audit::Actor::system("cli"))?;
    println!(
        "Demo data added: {} form(s), {} ticket(s).",
        s.forms, s.tickets
    );
    match s.password {
        Some(pw) => println!("Technician user {} with password: {pw}", s.technician),
        None => println!(
            "Technician user {} already existed; password unchanged.",
            s.technician
        ),
    }
    Ok(())
}
/// The delivery worker alone, until SIGTERM or SIGINT; then a graceful stop.
#[tokio::main]
async fn worker(config: Config) -> anyhow::Result<()> {
    let cfg = config.clone();
    let (pool, _) = tokio::task::spawn_blocking(move || startup::prepare_database(&cfg)).await??;
    hookdesk::delivery::retention::spawn(
        pool.clone(),
        config.retention_days,
        config.body_retention_days,
    );
    let handle = startup::start_worker(&config, pool, hookdesk::delivery::Waker::default()).await?;
    println!("Hookdesk worker is running");
    startup::shutdown_signal().await;
    tracing::info!("stopping the delivery worker");
    handle.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn bench_e2e(
    server: Option<String>,
    args: hookdesk::bench_e2e::BenchE2eArgs,
) -> anyhow::Result<()> {
    hookdesk::bench_e2e::run(server, &args).await
}

#[tokio::main]
async fn bench(config: Config, args: hookdesk::bench::BenchArgs) -> anyhow::Result<()> {
    hookdesk::bench::run(&config, &args).await
}
