//! `claw.lock`: one table per pinned integration, and one per signed capability sign-off, in
//! one canonical rendering (sorted, fixed key order, fixed quoting), so that it diffs cleanly
//! and `verify` can refuse a hand-edited one.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const FILE: &str = "claw.lock";
pub const VERSION: u32 = 1;

const HEADER: &str = "# claw.lock: what `clawc build` pinned. Generated; do not edit by hand\n\
                      # (`clawc verify` refuses a lock that differs from its canonical rendering).\n";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The spec's path relative to the project root, `/`-separated.
    pub spec: String,
    pub spec_hash: String,
    pub toolchain: String,
    pub template_hash: String,
    /// The generator that really wrote the code (`hand` for hand-authored transcripts).
    pub generator: String,
    pub model: String,
    /// Over every file of `golden/<name>/`.
    pub tree_hash: String,
}

/// A reviewer's signed sign-off of one integration's capabilities (`clawc review approve`).
/// A build keeps it: it stays valid for as long as the capabilities do not widen beyond it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    /// The capability set signed off, as canonical JSON (so that a later narrowing can be
    /// told from a widening without the revision it was signed at).
    pub capabilities: String,
    /// `sha256:` of `capabilities`; the signed message names it.
    pub capability_hash: String,
    /// The principal in `clawc.allowed_signers` whose key made the signature.
    pub signer: String,
    /// The armored SSH signature (`ssh-keygen -Y sign`) over the sign-off message.
    pub signature: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    #[serde(default)]
    pub integration: BTreeMap<String, Entry>,
    #[serde(default)]
    pub signoff: BTreeMap<String, SignOff>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("claw.lock: {0}")]
    Syntax(String),
    #[error("claw.lock: version {0}; this clawc reads version {VERSION}")]
    Version(u32),
}

impl Lock {
    pub fn new() -> Lock {
        Lock {
            version: VERSION,
            integration: BTreeMap::new(),
            signoff: BTreeMap::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Lock, LockError> {
        let lock: Lock = toml::from_str(text).map_err(|e| LockError::Syntax(e.to_string()))?;
        if lock.version != VERSION {
            return Err(LockError::Version(lock.version));
        }
        Ok(lock)
    }

    /// The canonical rendering.
    pub fn render(&self) -> String {
        let mut text = String::from(HEADER);
        text.push_str(&format!("version = {}\n", self.version));
        for (name, entry) in &self.integration {
            text.push_str(&format!("\n[integration.{}]\n", key(name)));
            for (field, value) in [
                ("spec", &entry.spec),
                ("spec_hash", &entry.spec_hash),
                ("toolchain", &entry.toolchain),
                ("template_hash", &entry.template_hash),
                ("generator", &entry.generator),
                ("model", &entry.model),
                ("tree_hash", &entry.tree_hash),
            ] {
                text.push_str(&format!("{field} = {}\n", string(value)));
            }
        }
        for (name, signoff) in &self.signoff {
            text.push_str(&format!("\n[signoff.{}]\n", key(name)));
            for (field, value) in [
                ("capability_hash", &signoff.capability_hash),
                ("signer", &signoff.signer),
                ("capabilities", &signoff.capabilities),
                ("signature", &signoff.signature),
            ] {
                text.push_str(&format!("{field} = {}\n", string(value)));
            }
        }
        text
    }
}

/// A bare key when TOML allows one (integration names always do), else quoted.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        string(name)
    }
}

/// A basic TOML string with every needed escape.
fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(spec: &str) -> Entry {
        Entry {
            spec: spec.into(),
            spec_hash: "sha256:aa".into(),
            toolchain: "clawc 0.1.0".into(),
            template_hash: "sha256:bb".into(),
            generator: "hand".into(),
            model: "none".into(),
            tree_hash: "sha256:cc".into(),
        }
    }

    #[test]
    fn the_rendering_round_trips_and_is_canonical() {
        let mut lock = Lock::new();
        lock.integration
            .insert("zeta".into(), entry("specs/zeta.claw"));
        lock.integration
            .insert("alpha".into(), entry("specs/a \"q\".claw"));
        lock.signoff.insert(
            "zeta".into(),
            SignOff {
                capabilities: "{\"network\":[]}".into(),
                capability_hash: "sha256:dd".into(),
                signer: "alice@example.com".into(),
                signature: "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n"
                    .into(),
            },
        );
        let text = lock.render();
        assert!(text.find("[integration.alpha]") < text.find("[integration.zeta]"));
        assert!(text.find("[integration.zeta]") < text.find("[signoff.zeta]"));
        let back = Lock::parse(&text).unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.render(), text);
        // Same data, other layout: parses, but is not the canonical rendering.
        let spaced = text.replace("spec_hash = ", "spec_hash =  ");
        assert_eq!(Lock::parse(&spaced).unwrap(), lock);
        assert_ne!(Lock::parse(&spaced).unwrap().render(), spaced);
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        assert!(Lock::parse("version = 2\n").is_err());
        assert!(Lock::parse("version = 1\nextra = 1\n").is_err());
        assert!(Lock::parse("version = 1\n[integration.a]\nspec = \"x\"\n").is_err());
    }
}
