//! The command line: `hotline serve`, `check-config`, `calls list`,
//! `archive import|export`, `users add|list|passwd|sip-password`. Every
//! subcommand takes `--config`, `--data-dir` and `--database-url`, so it
//! reads the same store the daemon writes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, Loaded, Overrides};
use crate::desk::users::{PhoneSecret, Role, Users, check_phone_password};
use crate::desk::{AreaCode, EndReason, ImportOptions, archive};
use crate::sip::Ha1;
use crate::store::{CallRecord, Store};
use crate::text;

#[derive(Debug, Parser)]
#[command(
    name = "hotline",
    version,
    about = "物业客服热线 (property-management hotline daemon)"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Config file (default: config/hotline.toml when it exists, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: the embedded database and, unless configured otherwise, recordings.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…), beats the config file.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon.
    Serve(ServeArgs),
    /// Validate the configuration and report errors by file and key path.
    CheckConfig,
    /// Call records.
    Calls {
        #[command(subcommand)]
        command: CallsCommand,
    },
    /// The owner archive (业主档案).
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Console and API users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Import owners, rooms and phones from a .csv (UTF-8 or GBK) or .xlsx file.
    Import {
        file: PathBuf,
        /// Check and count everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Community code for files without a 小区/community column.
        #[arg(long)]
        community: Option<String>,
        /// Area code completed onto local landline numbers (e.g. 0871).
        #[arg(long)]
        area_code: Option<String>,
    },
    /// Export the archive as CSV with the import's columns.
    Export { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from stdin when it is not a terminal, else prompted.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        /// Name shown to people (e.g. 张三).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List the users.
    List,
    /// Set a user's password (read like `add`); their sessions end.
    Passwd { name: String },
    /// Set the password a user's SIP phones register with (read like
    /// `add`); the SIP username is the user name. Only what digest
    /// authentication needs is stored, never the password.
    SipPassword { name: String },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// SIP listen address (UDP and TCP on the same port).
    #[arg(long, value_name = "ADDR:PORT")]
    sip_listen: Option<SocketAddr>,
    /// RTP port range.
    #[arg(long, value_name = "LOW-HIGH")]
    rtp_ports: Option<String>,
    /// HTTP API listen address.
    #[arg(long, value_name = "ADDR:PORT")]
    http_listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
enum CallsCommand {
    /// Print the newest call records.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// How many calls at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut overrides = Overrides {
        data_dir: cli.common.data_dir.clone(),
        database_url: cli.common.database_url.clone(),
        ..Overrides::default()
    };
    if let Command::Serve(serve) = &cli.command {
        overrides.sip_listen = serve.sip_listen;
        overrides.rtp_ports = serve.rtp_ports.clone();
        overrides.http_listen = serve.http_listen;
    }
    let loaded = match load(cli.common.config.as_deref(), &overrides) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("{}\n{err}", text::CONFIG_ERRORS);
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::CheckConfig => {
            let source = loaded
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| text::CONFIG_BUILT_IN.to_string());
            println!("{}: {source}", text::CONFIG_OK);
            ExitCode::SUCCESS
        }
        Command::Serve(_) => run(app::serve(loaded)),
        Command::Calls {
            command: CallsCommand::List { json, limit },
        } => run(list_calls(loaded, json, limit)),
        Command::Users { command } => run(users(loaded, command)),
        Command::Archive { command } => run(archive(loaded, command)),
    }
}

fn load(path: Option<&std::path::Path>, overrides: &Overrides) -> Result<Loaded, app::ConfigError> {
    let mut loaded = Loaded::load(path)?;
    loaded.apply(overrides)?;
    loaded.validate()?;
    Ok(loaded)
}

fn run(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hotline")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn list_calls(loaded: Loaded, json: bool, limit: u32) -> anyhow::Result<()> {
    let config = &loaded.config;
    let store = Store::open(&config.store, &config.data_dir).await?;
    let calls = store.list_calls(limit).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&calls)?);
    } else {
        print!("{}", calls_table(&calls, loaded.time_zone()));
    }
    Ok(())
}

async fn users(loaded: Loaded, command: UsersCommand) -> anyhow::Result<()> {
    let config = &loaded.config;
    let store = Store::open(&config.store, &config.data_dir).await?;
    let users = Users::new(store.clone());
    let result = match command {
        UsersCommand::Add {
            name,
            role,
            display_name,
        } => {
            let password = read_password(text::PASSWORD_PROMPT)?;
            let user = users
                .add(&name, display_name.as_deref(), role, &password)
                .await?;
            println!(
                "{}: {} ({})",
                text::USER_ADDED,
                user.username,
                user.role.label()
            );
            Ok(())
        }
        UsersCommand::List => {
            let list = users.list().await?;
            let logins = users.phone_logins().await?;
            println!("{}", text::USERS_HEADER.join("\t"));
            for user in list {
                let state = if user.disabled {
                    text::USER_DISABLED
                } else {
                    text::USER_ENABLED
                };
                let login = logins.iter().find(|login| login.username == user.username);
                let sip = match login {
                    Some(login) if login.has_credentials => text::SIP_SET,
                    _ => text::SIP_NOT_SET,
                };
                let phones = login
                    .filter(|login| !login.phones.is_empty())
                    .map_or_else(|| "-".to_string(), |login| login.phones.join(" "));
                println!(
                    "{}\t{}\t{}\t{state}\t{sip}\t{phones}",
                    user.username,
                    user.display_name.as_deref().unwrap_or("-"),
                    user.role.label()
                );
            }
            Ok(())
        }
        UsersCommand::SipPassword { name } => {
            let password = read_password(text::SIP_PASSWORD_PROMPT)?;
            check_phone_password(&password)?;
            let realm = &config.sip.realm;
            let secret = PhoneSecret {
                realm: realm.clone(),
                ha1_md5: Ha1::md5(&name, realm, &password).as_hex().to_string(),
                ha1_sha256: Ha1::sha256(&name, realm, &password).as_hex().to_string(),
            };
            users.set_phone_secret(&name, &secret).await?;
            println!("{}: {name}", text::SIP_PASSWORD_CHANGED);
            Ok(())
        }
        UsersCommand::Passwd { name } => {
            let password = read_password(text::PASSWORD_PROMPT)?;
            users.set_password(&name, &password).await?;
            println!("{}: {name}", text::PASSWORD_CHANGED);
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn archive(loaded: Loaded, command: ArchiveCommand) -> anyhow::Result<()> {
    let config = &loaded.config;
    let store = Store::open(&config.store, &config.data_dir).await?;
    let result = match command {
        ArchiveCommand::Import {
            file,
            dry_run,
            community,
            area_code,
        } => {
            let default_area_code = area_code
                .as_deref()
                .map(AreaCode::parse)
                .transpose()
                .map_err(|err| anyhow::anyhow!("--area-code: {err}"))?;
            let options = ImportOptions {
                dry_run,
                default_area_code,
                community,
                now: std::time::SystemTime::now(),
                progress: archive::terminal_progress(text::IMPORTING),
            };
            let report = archive::import_file(&store, &file, options).await?;
            for rejected in &report.rejected {
                eprintln!("{rejected}");
            }
            if let Some(path) = &report.rejected_file {
                eprintln!("{}: {}", text::REJECTED_FILE, path.display());
            }
            let heading = if report.dry_run {
                text::IMPORT_DRY_RUN
            } else {
                text::IMPORT_DONE
            };
            let s = &report.summary;
            println!(
                "{heading}: {} {}, {} {}, {} {}, {} {}",
                text::INSERTED,
                s.inserted,
                text::UPDATED,
                s.updated,
                text::UNCHANGED,
                s.unchanged,
                text::REJECTED,
                s.rejected
            );
            Ok(())
        }
        ArchiveCommand::Export { file } => {
            let rows = archive::export_file(&store, &file).await?;
            println!("{}: {rows} → {}", text::EXPORTED, file.display());
            Ok(())
        }
    };
    store.close().await;
    result
}

/// A password: prompted without echo on a terminal, else the first line of stdin.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(prompt)?)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn calls_table(calls: &[CallRecord], tz: chrono_tz::Tz) -> String {
    if calls.is_empty() {
        return format!("{}\n", text::NO_CALLS);
    }
    let mut out = text::CALLS_HEADER.join("\t");
    out.push('\n');
    for call in calls {
        let offered = chrono::DateTime::from_timestamp_millis(call.offered_at)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let duration = call
            .duration_ms
            .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let row = [
            call.id.as_str(),
            &offered,
            call.caller.as_deref().unwrap_or(&call.caller_raw),
            &call.dialled,
            call.community.as_deref().unwrap_or("-"),
            call.menu_digit.as_deref().unwrap_or("-"),
            &duration,
            match call.end_reason.as_deref() {
                Some(stored) => EndReason::parse(stored)
                    .map(EndReason::label)
                    .unwrap_or(text::UNKNOWN_END_REASON),
                None => text::CALL_IN_PROGRESS,
            },
            call.recording_path.as_deref().unwrap_or("-"),
        ];
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    out
}
