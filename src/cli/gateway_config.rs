//! `mxharness gateway-config DIR`: what an operator pastes into a key-pinning gateway's
//! configuration for the identities kept in DIR (`--gateway-identities`): each played server's
//! name, key id, public key and role, the federation CA certificate and the client-side names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::exit_codes;
use crate::gateway::identities::{self, Identities};

/// Options of `gateway-config`.
#[derive(Debug, Args)]
pub struct GatewayConfigArgs {
    /// The identities folder given to `run --gateway-identities`.
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Toml)]
    pub format: ConfigFormat,
}

/// Output formats of `gateway-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// TOML.
    Toml,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// The printed configuration (ordered: the output is the same for the same folder).
#[derive(Debug, Clone, Serialize)]
pub struct GatewayConfig {
    /// [`identities::FORMAT_VERSION`] of the folder.
    pub format_version: u32,
    /// Server names the gateway must let through.
    pub allowed_servers: Vec<String>,
    /// Server names the gateway must refuse.
    pub denied_servers: Vec<String>,
    /// PEM of the CA that issued the played servers' TLS certificates (the gateway and the
    /// homeserver behind it must trust it to fetch their keys).
    pub ca_certificate_pem: String,
    /// Names as the gateway sees the harness as a client.
    pub client_side: ClientSide,
    /// Per role (allowed, allowed2, denied).
    pub servers: BTreeMap<String, ServerEntry>,
}

/// The harness as the gateway's client.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSide {
    /// The X-Matrix origins the harness signs requests as (all played servers).
    pub origins: Vec<String>,
    /// The names the played servers' TLS certificates are valid for.
    pub tls_names: Vec<String>,
}

/// One played server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerEntry {
    /// allowed or denied.
    pub role: String,
    /// Its server name.
    pub server_name: String,
    /// `ed25519:<version>`.
    pub key_id: String,
    /// Unpadded standard base64.
    pub public_key: String,
    /// Where it serves its keys (`/_matrix/key/v2/server`) and federation API.
    pub url: String,
}

impl GatewayConfig {
    /// The configuration of loaded identities.
    pub fn of(ids: &Identities) -> Self {
        let mut allowed = std::collections::BTreeSet::new();
        let mut denied = std::collections::BTreeSet::new();
        let mut servers = BTreeMap::new();
        for id in &ids.servers {
            let name = id.key.server_name().to_owned();
            if id.allowed() {
                allowed.insert(name.clone());
            } else {
                denied.insert(name.clone());
            }
            servers.insert(
                id.role.to_owned(),
                ServerEntry {
                    role: if id.allowed() { "allowed" } else { "denied" }.to_owned(),
                    server_name: name,
                    key_id: id.key.key_id(),
                    public_key: id.key.public_key_base64(),
                    url: format!("https://127.0.0.1:{}", id.port),
                },
            );
        }
        let origins = allowed.iter().chain(&denied).cloned().collect();
        GatewayConfig {
            format_version: identities::FORMAT_VERSION,
            allowed_servers: allowed.into_iter().collect(),
            denied_servers: denied.into_iter().collect(),
            ca_certificate_pem: ids.ca.cert_pem().to_owned(),
            client_side: ClientSide {
                origins,
                tls_names: ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec(),
            },
            servers,
        }
    }

    /// The text printed for `format`.
    pub fn render(&self, format: ConfigFormat) -> Result<String, String> {
        match format {
            ConfigFormat::Json => serde_json::to_string_pretty(self)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string()),
            ConfigFormat::Yaml => serde_saphyr::to_string(self).map_err(|e| e.to_string()),
            ConfigFormat::Toml => Ok(self.toml()),
        }
    }

    /// TOML by hand (the shape is fixed; no TOML crate needed).
    fn toml(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("format_version = {}\n", self.format_version));
        out.push_str(&format!(
            "allowed_servers = {}\n",
            toml_list(&self.allowed_servers)
        ));
        out.push_str(&format!(
            "denied_servers = {}\n",
            toml_list(&self.denied_servers)
        ));
        // A PEM has no `'''`: a multi-line literal string keeps it verbatim.
        out.push_str(&format!(
            "ca_certificate_pem = '''\n{}'''\n",
            self.ca_certificate_pem
        ));
        out.push_str("\n[client_side]\n");
        out.push_str(&format!(
            "origins = {}\n",
            toml_list(&self.client_side.origins)
        ));
        out.push_str(&format!(
            "tls_names = {}\n",
            toml_list(&self.client_side.tls_names)
        ));
        for (role, s) in &self.servers {
            out.push_str(&format!("\n[servers.{role}]\n"));
            for (k, v) in [
                ("role", &s.role),
                ("server_name", &s.server_name),
                ("key_id", &s.key_id),
                ("public_key", &s.public_key),
                ("url", &s.url),
            ] {
                out.push_str(&format!("{k} = {}\n", toml_string(v)));
            }
        }
        out
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// `gateway-config DIR`: the folder must hold identities (a run makes them).
pub fn gateway_config(args: &GatewayConfigArgs) -> u8 {
    let ids = match Identities::load(&args.dir) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    match GatewayConfig::of(&ids).render(args.format) {
        Ok(text) => {
            out!("{text}");
            exit_codes::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot render the configuration: {e}");
            exit_codes::ENVIRONMENT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> GatewayConfig {
        let entry = |role: &str, name: &str, port: u16, v: &str, key: &str| ServerEntry {
            role: role.into(),
            server_name: name.into(),
            key_id: format!("ed25519:{v}"),
            public_key: key.into(),
            url: format!("https://127.0.0.1:{port}"),
        };
        let mut servers = BTreeMap::new();
        servers.insert(
            "allowed".into(),
            entry(
                "allowed",
                "localhost:40001",
                40001,
                "mxh_aaaa0001",
                "VGhpcyBpcyBub3QgYSByZWFsIGtleSBhdCBhbGwgISE",
            ),
        );
        servers.insert(
            "allowed2".into(),
            entry(
                "allowed",
                "localhost:40002",
                40002,
                "mxh_aaaa0002",
                "QW5vdGhlciBmYWtlIGtleSBmb3IgdGhlIHNuYXBzaG90",
            ),
        );
        servers.insert(
            "denied".into(),
            entry(
                "denied",
                "127.0.0.1:40003",
                40003,
                "mxh_dddd0003",
                "RGVuaWVkIHNlcnZlciBrZXkgaW4gdGhlIHNuYXBzaG90",
            ),
        );
        GatewayConfig {
            format_version: 1,
            allowed_servers: vec!["localhost:40001".into(), "localhost:40002".into()],
            denied_servers: vec!["127.0.0.1:40003".into()],
            ca_certificate_pem:
                "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n".into(),
            client_side: ClientSide {
                origins: vec![
                    "localhost:40001".into(),
                    "localhost:40002".into(),
                    "127.0.0.1:40003".into(),
                ],
                tls_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            },
            servers,
        }
    }

    #[test]
    fn renders_toml() {
        insta::assert_snapshot!(
            "gateway_config_toml",
            fixture().render(ConfigFormat::Toml).unwrap()
        );
    }

    #[test]
    fn renders_yaml() {
        insta::assert_snapshot!(
            "gateway_config_yaml",
            fixture().render(ConfigFormat::Yaml).unwrap()
        );
    }

    #[test]
    fn renders_json() {
        insta::assert_snapshot!(
            "gateway_config_json",
            fixture().render(ConfigFormat::Json).unwrap()
        );
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn made_identities_render_their_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let ids = Identities::load_or_create(tmp.path(), &Default::default()).unwrap();
        let text = GatewayConfig::of(&ids).render(ConfigFormat::Toml).unwrap();
        for id in &ids.servers {
            assert!(text.contains(&id.key.public_key_base64()), "{text}");
        }
        assert!(text.contains(ids.ca.cert_pem()), "{text}");
        let again = Identities::load(tmp.path()).unwrap();
        assert_eq!(
            GatewayConfig::of(&again).render(ConfigFormat::Json),
            GatewayConfig::of(&ids).render(ConfigFormat::Json)
        );
    }
}
