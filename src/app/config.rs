//! The one configuration file: composed from the parts each layer owns,
//! read strictly (an unknown key is an error), with every error naming the
//! file and the key path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::api::ApiConfig;
use crate::desk::DeskConfig;
use crate::desk::callbacks::CallbacksConfig;
use crate::media::MediaConfig;
use crate::recording::RecordingConfig;
use crate::sip::SipConfig;
use crate::store::StoreConfig;
use crate::telephony::outbound::TrunkConfig;
use crate::telephony::{HotlineConfig, IvrConfig, QueueConfig, VoicemailConfig};

/// The config file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/hotline.toml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database and (unless configured otherwise) the
    /// recordings live; relative to the working directory.
    pub data_dir: PathBuf,
    /// The zone business rules and recording folders use (IANA name).
    pub time_zone: String,
    /// This daemon's name among the nodes sharing one database.
    pub node: String,
    pub sip: SipConfig,
    pub media: MediaConfig,
    pub recording: RecordingConfig,
    pub store: StoreConfig,
    pub hotline: HotlineConfig,
    pub ivr: IvrConfig,
    pub voicemail: VoicemailConfig,
    pub queue: QueueConfig,
    pub api: ApiConfig,
    /// Departments, categories and SLA; its time zone is the top-level one.
    pub desk: DeskConfig,
    /// The carriers' trunks callbacks go out on; the first is the default.
    pub trunks: Vec<TrunkConfig>,
    /// 回访 and missed-call callbacks.
    pub callbacks: CallbacksConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("."),
            time_zone: "Asia/Shanghai".to_string(),
            node: "node-1".to_string(),
            sip: SipConfig::default(),
            media: MediaConfig::default(),
            recording: RecordingConfig::default(),
            store: StoreConfig::default(),
            hotline: HotlineConfig::default(),
            ivr: IvrConfig::default(),
            voicemail: VoicemailConfig::default(),
            queue: QueueConfig::default(),
            api: ApiConfig::default(),
            desk: DeskConfig::default(),
            trunks: Vec::new(),
            callbacks: CallbacksConfig::default(),
        }
    }
}

/// What can be wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: `{key}`: {message}")]
    Parse {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{}", .problems.iter().map(|(key, message)| format!("{}: `{key}`: {message}", .path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<(String, String)>,
    },
}

/// A configuration together with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
}

/// Settings given on the command line, which beat the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub sip_listen: Option<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub rtp_ports: Option<String>,
}

impl Loaded {
    /// Reads `path`, or `config/hotline.toml` when it exists, or the
    /// built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
        let path = match path {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Loaded {
                config: Config::default(),
                path: None,
            });
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config = parse(&text, &path)?;
        Ok(Loaded {
            config,
            path: Some(path),
        })
    }

    /// Applies command-line overrides; a bad value is named like a bad key.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<(), ConfigError> {
        let config = &mut self.config;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            config.store.database_url = url.clone();
        }
        if let Some(listen) = overrides.sip_listen {
            config.sip.listen = listen;
        }
        if let Some(listen) = overrides.http_listen {
            config.api.listen = listen;
        }
        if let Some(ports) = &overrides.rtp_ports {
            config.media.rtp_ports = ports.parse().map_err(|err| ConfigError::Parse {
                path: PathBuf::from("--rtp-ports"),
                key: "media.rtp_ports".to_string(),
                message: format!("{err}"),
            })?;
        }
        Ok(())
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let config = &self.config;
        let mut problems = Vec::new();
        if config.time_zone.parse::<chrono_tz::Tz>().is_err() {
            problems.push((
                "time_zone".to_string(),
                format!("`{}` is not an IANA time zone name", config.time_zone),
            ));
        }
        if config.node.is_empty() {
            problems.push(("node".to_string(), "must not be empty".to_string()));
        }
        problems.extend(config.sip.validate());
        problems.extend(config.hotline.validate());
        problems.extend(config.ivr.validate());
        problems.extend(config.queue.validate());
        problems.extend(config.api.validate());
        problems.extend(crate::telephony::outbound::validate_trunks(&config.trunks));
        problems.extend(config.callbacks.validate());
        for (code, community) in &config.callbacks.communities {
            if let Some(trunk) = &community.trunk
                && !config.trunks.iter().any(|t| &t.name == trunk)
            {
                problems.push((
                    format!("callbacks.communities.{code}.trunk"),
                    format!("no [[trunks]] named `{trunk}`"),
                ));
            }
        }
        if let Err(err) = config.desk.validate() {
            problems.push(match err {
                crate::desk::DeskError::InvalidConfig { path, reason } => {
                    (format!("desk.{path}"), reason.to_string())
                }
                other => ("desk".to_string(), other.to_string()),
            });
        }
        if config.desk.time_zone != crate::desk::DEFAULT_TIME_ZONE
            && config.desk.time_zone.name() != config.time_zone
        {
            problems.push((
                "desk.time_zone".to_string(),
                "set the time zone once, at the top level (`time_zone`)".to_string(),
            ));
        }
        for (key, file) in self.prompt_files() {
            if !file.is_file() {
                problems.push((
                    key,
                    format!("prompt file {} does not exist", file.display()),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                path: self.display_path(),
                problems,
            })
        }
    }

    /// The desk's configuration with the top-level time zone.
    pub fn desk(&self) -> DeskConfig {
        DeskConfig {
            time_zone: self.time_zone(),
            ..self.config.desk.clone()
        }
    }

    /// The time zone (validated by `validate`; UTC+8 Shanghai otherwise).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.config
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai)
    }

    /// The folder relative config paths (prompts) are taken from.
    pub fn base_dir(&self) -> PathBuf {
        match &self.path {
            Some(path) => path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            None => PathBuf::from("config"),
        }
    }

    /// The recordings root: as configured, relative paths under the data dir.
    pub fn recordings_root(&self) -> PathBuf {
        let root = &self.config.recording.root;
        if root.is_absolute() {
            root.clone()
        } else {
            self.config.data_dir.join(root)
        }
    }

    /// The prompts folder, resolved.
    pub fn prompts_dir(&self) -> PathBuf {
        let ivr = &self.config.ivr;
        if ivr.prompts_dir.is_absolute() {
            ivr.prompts_dir.clone()
        } else {
            self.base_dir().join(&ivr.prompts_dir)
        }
    }

    /// Each prompt's config key and resolved file.
    pub fn prompt_files(&self) -> Vec<(String, PathBuf)> {
        let ivr = &self.config.ivr;
        let dir = self.prompts_dir();
        let files = &ivr.prompts;
        [
            ("greeting", &files.greeting),
            ("menu", &files.menu),
            ("invalid", &files.invalid),
            ("voicemail", &files.voicemail),
            ("beep", &files.beep),
            ("thanks", &files.thanks),
            ("queue", &files.queue),
            ("hold", &files.hold),
            ("position_more", &files.position_more),
        ]
        .into_iter()
        .map(|(name, file)| (format!("ivr.prompts.{name}"), dir.join(file)))
        .chain(
            files
                .positions
                .iter()
                .enumerate()
                .map(|(index, file)| (format!("ivr.prompts.positions[{index}]"), dir.join(file))),
        )
        .collect()
    }

    fn display_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in defaults)"))
    }
}

/// Parses the text of a config file strictly.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        ConfigError::Parse {
            path: path.to_path_buf(),
            key,
            message: err.into_inner().message().trim().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_files() -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .expect("config folder")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_shipped_config_file_parses_and_validates() {
        let files = shipped_files();
        assert!(!files.is_empty());
        for path in files {
            let loaded = Loaded::load(Some(&path)).unwrap_or_else(|err| panic!("{err}"));
            loaded.validate().unwrap_or_else(|err| panic!("{err}"));
        }
    }

    #[test]
    fn the_shipped_default_config_is_the_built_in_default_plus_the_demo_community() {
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hotline.toml"));
        let mut shipped = Loaded::load(Some(&path)).expect("shipped").config;
        assert_eq!(shipped.hotline.communities.len(), 1);
        assert!(shipped.hotline.community_for("hotline").is_some());
        shipped.hotline.communities.clear();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn an_unknown_key_is_named_with_its_path() {
        let err = parse(
            "[sip]\nlisten = \"127.0.0.1:5060\"\nlistne = 1\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        match err {
            ConfigError::Parse { key, message, .. } => {
                assert_eq!(key, "sip.listne");
                assert!(message.contains("unknown field"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_bad_value_is_named_with_its_path() {
        let err = parse("[hotline]\nanswer_delay = \"soon\"\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("`hotline.answer_delay`"), "{err}");
        let err = parse("[sip]\nlisten = \"nowhere\"\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().starts_with("x.toml: `sip.listen`"), "{err}");
    }

    #[test]
    fn a_bad_time_zone_and_a_missing_prompt_are_reported_together() {
        let mut loaded = Loaded {
            config: parse("time_zone = \"Mars/Olympus\"\n", Path::new("x.toml")).expect("parse"),
            path: Some(PathBuf::from("/nonexistent/x.toml")),
        };
        loaded.config.ivr.prompts.beep = "nope.wav".into();
        let err = loaded.validate().unwrap_err().to_string();
        assert!(err.contains("`time_zone`"), "{err}");
        assert!(err.contains("`ivr.prompts.beep`"), "{err}");
    }

    #[test]
    fn command_line_overrides_beat_the_file() {
        let mut loaded = Loaded {
            config: Config::default(),
            path: None,
        };
        loaded
            .apply(&Overrides {
                data_dir: Some("/tmp/d".into()),
                database_url: Some("postgres://x/y".into()),
                sip_listen: Some("127.0.0.1:5999".parse().expect("addr")),
                http_listen: Some("127.0.0.1:8999".parse().expect("addr")),
                rtp_ports: Some("30000-30099".into()),
            })
            .expect("apply");
        assert_eq!(loaded.config.sip.listen.port(), 5999);
        assert_eq!(loaded.config.api.listen.port(), 8999);
        assert_eq!(loaded.config.data_dir, PathBuf::from("/tmp/d"));
        assert_eq!(loaded.recordings_root(), PathBuf::from("/tmp/d/recordings"));
        let bad = loaded.apply(&Overrides {
            rtp_ports: Some("9-3".into()),
            ..Overrides::default()
        });
        assert!(bad.is_err());
    }
}
