//! AWS credentials from the standard chain, in the SDKs' order: the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the profile
//! (`AWS_PROFILE`, else `default`) in the shared credentials file and the config file
//! (static keys, or a `credential_process`); the container's credentials endpoint (ECS, EKS pod
//! identity); the instance role through IMDSv2. The manifest never holds credentials; they are
//! never printed, logged or journaled (this type's `Debug` shows the access key id's source
//! only).
//!
//! Not done here: a profile that assumes a role (`role_arn`) or signs in through IAM Identity
//! Center (`sso_*`): the error says to give it a `credential_process` (e.g.
//! `aws configure export-credentials --profile NAME --format process`).

use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A set of AWS credentials and where they came from.
#[derive(Clone)]
pub struct AwsCredentials {
    /// The access key id.
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// Where they came from (`the environment`, `profile `x` in ~/.aws/credentials`, ...).
    pub source: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AwsCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        source: String,
    ) -> AwsCredentials {
        AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token: session_token.filter(|t| !t.is_empty()),
            source,
        }
    }

    /// The secret access key (for signing only).
    pub(crate) fn secret(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

/// `(method, url, headers)` → `(status, body)`, `None` when nothing answers.
pub type HttpFetch<'a> = dyn Fn(&str, &str, &[(&str, &str)]) -> Option<(u16, String)> + 'a;

/// Where the chain reads from: the environment and the home folder (a closure in tests).
pub struct CredentialSources<'a> {
    /// An environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Fetches `url` with a method and headers, with a short timeout: the container and
    /// instance metadata endpoints. `None` when nothing answers.
    pub http: &'a HttpFetch<'a>,
}

/// Loads credentials from the chain, or says what was looked at.
pub fn load(src: &CredentialSources<'_>) -> Result<AwsCredentials, String> {
    let env = |k: &str| (src.env)(k).filter(|v| !v.trim().is_empty());
    // 1. The environment.
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(AwsCredentials::new(
                id,
                secret,
                env("AWS_SESSION_TOKEN"),
                "the environment (AWS_ACCESS_KEY_ID)".into(),
            ))
        }
        (Some(_), None) => {
            return Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into())
        }
        (None, Some(_)) => {
            return Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into())
        }
        (None, None) => {}
    }
    // 2. The profile.
    let explicit = env("AWS_PROFILE");
    let profile = explicit.clone().unwrap_or_else(|| "default".into());
    let home = env("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = file("AWS_CONFIG_FILE", "config");
    let mut looked = vec!["the environment (AWS_ACCESS_KEY_ID)".to_string()];
    let mut section: HashMap<String, String> = HashMap::new();
    let mut found_in = Vec::new();
    for (path, name) in [
        (&config_file, config_section_name(&profile)),
        (&credentials_file, profile.clone()),
    ] {
        let Some(path) = path else { continue };
        looked.push(format!("profile `{profile}` in {}", path.display()));
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if let Some(s) = parse_ini(&text).remove(&name) {
            found_in.push(path.display().to_string());
            // The credentials file's keys win over the config file's.
            section.extend(s);
        }
    }
    let where_ = || format!("profile `{profile}` ({})", found_in.join(", "));
    if !found_in.is_empty() {
        let get = |k: &str| section.get(k).filter(|v| !v.is_empty()).cloned();
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => {
                return Ok(AwsCredentials::new(
                    id,
                    secret,
                    get("aws_session_token"),
                    where_(),
                ))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!(
                    "{} has only one of aws_access_key_id and aws_secret_access_key",
                    where_()
                ))
            }
            (None, None) => {}
        }
        if let Some(cmd) = get("credential_process") {
            return credential_process(&cmd, &where_());
        }
        if section.contains_key("role_arn") || section.keys().any(|k| k.starts_with("sso_")) {
            return Err(format!(
                "{} assumes a role or signs in through IAM Identity Center, which por-attest does \
                 not do itself; give the profile a credential_process (e.g. `aws configure \
                 export-credentials --profile {profile} --format process`) or export the \
                 credentials into the environment",
                where_()
            ));
        }
        return Err(format!(
            "{} has no aws_access_key_id / aws_secret_access_key nor credential_process",
            where_()
        ));
    }
    if let Some(p) = explicit {
        return Err(format!(
            "AWS_PROFILE names profile `{p}`, which is in neither {}",
            [config_file, credentials_file]
                .iter()
                .flatten()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" nor ")
        ));
    }
    // 3. The container's credentials endpoint.
    let container = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .map(|u| format!("http://169.254.170.2{u}"))
        .or_else(|| env("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    if let Some(url) = container {
        let token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN").or_else(|| {
            env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                .and_then(|f| std::fs::read_to_string(f).ok())
                .map(|t| t.trim().to_string())
        });
        let headers: Vec<(&str, &str)> = token
            .as_deref()
            .map(|t| vec![("Authorization", t)])
            .unwrap_or_default();
        return match (src.http)("GET", &url, &headers) {
            Some((200, body)) => from_json(&body, "the container credentials endpoint"),
            Some((status, _)) => Err(format!(
                "the container credentials endpoint {url} answered HTTP {status}"
            )),
            None => Err(format!(
                "the container credentials endpoint {url} did not answer"
            )),
        };
    }
    // 4. The instance role (IMDSv2).
    looked.push("the container credentials endpoint".into());
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        looked.push("(instance metadata disabled by AWS_EC2_METADATA_DISABLED)".into());
    } else {
        let base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or_else(|| "http://169.254.169.254".into());
        let base = base.trim_end_matches('/');
        looked.push(format!("the instance role (IMDSv2 at {base})"));
        if let Some((200, token)) = (src.http)(
            "PUT",
            &format!("{base}/latest/api/token"),
            &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
        ) {
            let auth = [("x-aws-ec2-metadata-token", token.trim())];
            let roles = format!("{base}/latest/meta-data/iam/security-credentials/");
            match (src.http)("GET", &roles, &auth) {
                Some((200, list)) => {
                    let role = list.lines().next().unwrap_or("").trim().to_string();
                    if role.is_empty() {
                        return Err("the instance has no IAM role (instance profile)".into());
                    }
                    return match (src.http)("GET", &format!("{roles}{role}"), &auth) {
                        Some((200, body)) => {
                            from_json(&body, &format!("the instance role `{role}`"))
                        }
                        _ => Err(format!(
                            "the instance metadata service gave no credentials for role `{role}`"
                        )),
                    };
                }
                _ => return Err("the instance has no IAM role (instance profile)".into()),
            }
        }
    }
    Err(format!(
        "none found; looked at {} (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
        looked.join(", ")
    ))
}

/// The config file names a profile `[profile NAME]`, except `[default]`.
fn config_section_name(profile: &str) -> String {
    if profile == "default" {
        "default".into()
    } else {
        format!("profile {profile}")
    }
}

/// The sections of an AWS shared config or credentials file: `[name]` then `key = value`
/// lines; `#` and `;` start comments; indented lines (sub-properties) are skipped.
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.get_mut(section)
                .expect("the section was entered")
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

/// Credentials from a JSON document with `AccessKeyId`, `SecretAccessKey` and `Token` or
/// `SessionToken` (the container and instance endpoints, `credential_process`).
fn from_json(body: &str, source: &str) -> Result<AwsCredentials, String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| format!("{source} answered something that is not JSON"))?;
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match (get("AccessKeyId"), get("SecretAccessKey")) {
        (Some(id), Some(secret)) => Ok(AwsCredentials::new(
            id,
            secret,
            get("Token").or_else(|| get("SessionToken")),
            source.to_string(),
        )),
        _ => Err(format!(
            "{source} answered without AccessKeyId and SecretAccessKey"
        )),
    }
}

/// Runs a profile's `credential_process` (through `sh -c`) and reads its JSON.
fn credential_process(cmd: &str, profile: &str) -> Result<AwsCredentials, String> {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the credential_process of {profile}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the credential_process of {profile} failed ({})",
            out.status
        ));
    }
    from_json(
        &String::from_utf8_lossy(&out.stdout),
        &format!("the credential_process of {profile}"),
    )
}

/// The chain on this machine: the process environment, and blocking HTTP with a one-second
/// timeout for the metadata endpoints.
pub fn load_from_system() -> Result<AwsCredentials, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
    let http = |method: &str, url: &str, headers: &[(&str, &str)]| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).ok()?;
        let mut req = client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().ok()?))
    };
    load(&CredentialSources {
        env: &|k| std::env::var(k).ok(),
        http: &http,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_http(_: &str, _: &str, _: &[(&str, &str)]) -> Option<(u16, String)> {
        None
    }

    fn with_env<'a>(vars: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn environment_first() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t".to_string()),
            ("AWS_SESSION_TOKEN", "tok".to_string()),
        ];
        let env = with_env(&vars);
        let c = load(&CredentialSources {
            env: &env,
            http: &no_http,
        })
        .unwrap();
        assert_eq!(c.access_key_id, "AKIDEXAMPLE");
        assert_eq!(c.secret(), "s3cr3t");
        assert_eq!(c.session_token(), Some("tok"));
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("tok\""),
            "{debug}"
        );
        let half = [("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_string())];
        let env = with_env(&half);
        let e = load(&CredentialSources {
            env: &env,
            http: &no_http,
        })
        .unwrap_err();
        assert!(e.contains("AWS_SECRET_ACCESS_KEY is not"), "{e}");
    }

    #[test]
    fn profiles_from_the_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n[ceremony]\naws_access_key_id=AKIDCEREMONY\naws_secret_access_key = c\naws_session_token = t\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile sso]\nsso_start_url = https://x\n[profile proc]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"p\"}'\n[profile empty]\nregion = eu-west-1\n",
        )
        .unwrap();
        let load_profile = |profile: Option<&str>| {
            let mut vars = vec![
                ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
                ("AWS_CONFIG_FILE", config.display().to_string()),
            ];
            if let Some(p) = profile {
                vars.push(("AWS_PROFILE", p.to_string()));
            }
            let env = with_env(&vars);
            load(&CredentialSources {
                env: &env,
                http: &no_http,
            })
        };
        assert_eq!(load_profile(None).unwrap().access_key_id, "AKIDDEFAULT");
        let c = load_profile(Some("ceremony")).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token()),
            ("AKIDCEREMONY", Some("t"))
        );
        assert!(c.source.contains("profile `ceremony`"), "{}", c.source);
        assert_eq!(
            load_profile(Some("proc")).unwrap().access_key_id,
            "AKIDPROC"
        );
        let e = load_profile(Some("sso")).unwrap_err();
        assert!(e.contains("credential_process"), "{e}");
        let e = load_profile(Some("empty")).unwrap_err();
        assert!(e.contains("has no aws_access_key_id"), "{e}");
        let e = load_profile(Some("nope")).unwrap_err();
        assert!(e.contains("AWS_PROFILE names profile `nope`"), "{e}");
    }

    #[test]
    fn instance_role_through_imdsv2() {
        let vars = [
            ("HOME", "/nonexistent".to_string()),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://imds".to_string(),
            ),
        ];
        let env = with_env(&vars);
        let http = |method: &str, url: &str, headers: &[(&str, &str)]| {
            let token = headers
                .iter()
                .any(|(k, v)| *k == "x-aws-ec2-metadata-token" && *v == "T");
            match (method, url) {
                ("PUT", "http://imds/latest/api/token") => Some((200, "T".to_string())),
                ("GET", "http://imds/latest/meta-data/iam/security-credentials/") if token => {
                    Some((200, "custody-role\n".to_string()))
                }
                ("GET", "http://imds/latest/meta-data/iam/security-credentials/custody-role")
                    if token =>
                {
                    Some((
                        200,
                        r#"{"Code":"Success","AccessKeyId":"ASIAROLE","SecretAccessKey":"r","Token":"st"}"#
                            .to_string(),
                    ))
                }
                _ => Some((401, String::new())),
            }
        };
        let c = load(&CredentialSources {
            env: &env,
            http: &http,
        })
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAROLE");
        assert_eq!(c.session_token(), Some("st"));
        assert!(c.source.contains("custody-role"));
        // Nothing anywhere: the error lists where it looked.
        let e = load(&CredentialSources {
            env: &env,
            http: &no_http,
        })
        .unwrap_err();
        assert!(
            e.contains("none found") && e.contains("IMDSv2 at http://imds"),
            "{e}"
        );
    }
}
