//! Signed sign-off of an integration's capabilities: an SSH signature (`ssh-keygen -Y`, the
//! scheme git uses for signed commits) over a message naming the integration and the hash of
//! its capability set, checked against an allowed-signers file that the caller picks — in CI,
//! the one of the pull request's base, never the one of the change under review.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::capability::Capabilities;
use super::compare::{self, Change};
use crate::build::lock::SignOff;

/// The allowed-signers file at the project root (git's format for `gpg.ssh.allowedSignersFile`).
pub const SIGNERS_FILE: &str = "clawc.allowed_signers";

/// The signature namespace: a signature made for git commits (namespace `git`) or anything
/// else never verifies as a sign-off.
pub const NAMESPACE: &str = "clawc-signoff";

/// The signed message.
pub fn message(integration: &str, capability_hash: &str) -> String {
    format!(
        "clawc capability sign-off v1\nintegration {integration}\ncapabilities {capability_hash}\n"
    )
}

/// Makes and checks SSH signatures; the real one runs `ssh-keygen`.
pub trait Signer {
    /// The armored signature of `message` by the private key at `key`.
    fn sign(&self, key: &Path, message: &[u8]) -> Result<String, SignError>;
    /// The principals of `signers` whose key made `signature` (over `message`).
    fn principals(&self, signers: &[u8], signature: &str) -> Result<Vec<String>, SignError>;
    /// Whether `signature` over `message` is `principal`'s according to `signers`.
    fn verify(
        &self,
        signers: &[u8],
        principal: &str,
        message: &[u8],
        signature: &str,
    ) -> Result<(), SignError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("running ssh-keygen: {0} (install OpenSSH's client: `apt install openssh-client`)")]
    Spawn(std::io::Error),
    #[error("scratch file for ssh-keygen: {0}")]
    Scratch(std::io::Error),
    #[error("ssh-keygen -Y {action}: {message}")]
    Refused {
        action: &'static str,
        message: String,
    },
}

/// `ssh-keygen -Y sign | find-principals | verify`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SshKeygen;

impl SshKeygen {
    /// `ssh-keygen -Y ACTION -n clawc-signoff -f FILE ARGS...`, `stdin` on its standard input.
    fn run(
        action: &'static str,
        file: &Path,
        args: &[&std::ffi::OsStr],
        stdin: &[u8],
    ) -> Result<String, SignError> {
        let mut child = Command::new("ssh-keygen")
            .args(["-Y", action, "-n", NAMESPACE, "-f"])
            .arg(file)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SignError::Spawn)?;
        if let Some(mut input) = child.stdin.take() {
            // A refusal closes stdin early; its stderr says why.
            let _ = input.write_all(stdin);
        }
        let output = child.wait_with_output().map_err(SignError::Spawn)?;
        if !output.status.success() {
            let mut message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if message.is_empty() {
                message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            }
            return Err(SignError::Refused { action, message });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Files ssh-keygen reads by name, in a private folder that goes when this does.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Result<Scratch, SignError> {
        Ok(Scratch {
            dir: tempfile::tempdir().map_err(SignError::Scratch)?,
        })
    }

    fn file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, SignError> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).map_err(SignError::Scratch)?;
        Ok(path)
    }
}

impl Signer for SshKeygen {
    fn sign(&self, key: &Path, message: &[u8]) -> Result<String, SignError> {
        let scratch = Scratch::new()?;
        let file = scratch.file("message", message)?;
        Self::run("sign", key, &["-q".as_ref(), file.as_os_str()], &[])?;
        let signature =
            std::fs::read_to_string(file.with_extension("sig")).map_err(SignError::Scratch)?;
        Ok(signature)
    }

    fn principals(&self, signers: &[u8], signature: &str) -> Result<Vec<String>, SignError> {
        let scratch = Scratch::new()?;
        let signers = scratch.file("allowed_signers", signers)?;
        let signature = scratch.file("message.sig", signature.as_bytes())?;
        let found = Self::run(
            "find-principals",
            &signers,
            &["-s".as_ref(), signature.as_os_str()],
            &[],
        )?;
        Ok(found.lines().map(str::to_owned).collect())
    }

    fn verify(
        &self,
        signers: &[u8],
        principal: &str,
        message: &[u8],
        signature: &str,
    ) -> Result<(), SignError> {
        let scratch = Scratch::new()?;
        let signers = scratch.file("allowed_signers", signers)?;
        let signature = scratch.file("message.sig", signature.as_bytes())?;
        Self::run(
            "verify",
            &signers,
            &[
                "-I".as_ref(),
                principal.as_ref(),
                "-s".as_ref(),
                signature.as_os_str(),
            ],
            message,
        )
        .map(drop)
    }
}

/// Signs off `current` as the holder of `key`, who must be in `signers` (the work tree's file:
/// whether that file may be trusted is decided where the sign-off is checked).
pub fn approve(
    signer: &dyn Signer,
    integration: &str,
    current: &Capabilities,
    key: &Path,
    signers: &[u8],
) -> Result<SignOff, ApproveError> {
    let capability_hash = current.hash();
    let text = message(integration, &capability_hash);
    let signature = signer.sign(key, text.as_bytes())?;
    let principal = signer
        .principals(signers, &signature)
        .ok()
        .and_then(|found| found.into_iter().next())
        .ok_or(ApproveError::NotASigner)?;
    Ok(SignOff {
        capabilities: current.canonical(),
        capability_hash,
        signer: principal,
        signature,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("the key is not in {SIGNERS_FILE}")]
    NotASigner,
}

/// Why a sign-off does not cover `current`, if it does not: each widening beyond what was
/// signed, or a reason the signature itself does not hold.
#[derive(Debug)]
pub enum Verdict {
    Holds,
    Missing,
    /// The stored hash is not the hash of the stored set (edited by hand).
    Inconsistent,
    /// The stored set cannot be read.
    Unreadable(String),
    BadSignature(String),
    Widens(Vec<Change>),
}

/// Checks `signoff` of `integration` against the trusted `signers` file and the integration's
/// `current` capabilities. A narrowing keeps a sign-off; only a widening needs a new one.
pub fn check(
    signer: &dyn Signer,
    integration: &str,
    signoff: Option<&SignOff>,
    current: &Capabilities,
    signers: &[u8],
) -> Verdict {
    let Some(signoff) = signoff else {
        return Verdict::Missing;
    };
    if spec_lang::hash::sha256_prefixed(signoff.capabilities.as_bytes()) != signoff.capability_hash
    {
        return Verdict::Inconsistent;
    }
    let signed = match Capabilities::parse(&signoff.capabilities) {
        Ok(signed) => signed,
        Err(e) => return Verdict::Unreadable(e.to_string()),
    };
    let text = message(integration, &signoff.capability_hash);
    if let Err(e) = signer.verify(
        signers,
        &signoff.signer,
        text.as_bytes(),
        &signoff.signature,
    ) {
        return Verdict::BadSignature(e.to_string());
    }
    let widenings = compare::widenings(&signed, current);
    if widenings.is_empty() {
        Verdict::Holds
    } else {
        Verdict::Widens(widenings)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Holds => write!(f, "signed off"),
            Verdict::Missing => write!(f, "no sign-off"),
            Verdict::Inconsistent => write!(
                f,
                "its capability_hash is not the hash of its capabilities (edited by hand?)"
            ),
            Verdict::Unreadable(e) => write!(f, "its capabilities cannot be read: {e}"),
            Verdict::BadSignature(e) => write!(f, "its signature does not verify: {e}"),
            Verdict::Widens(changes) => {
                let texts: Vec<&str> = changes.iter().map(|c| c.text.as_str()).collect();
                write!(
                    f,
                    "the capabilities widen beyond the signed set: {}",
                    texts.join("; ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::capability::ToolGate;
    use spec_lang::ir;

    /// Signs as the key's file name; a signature holds for exactly its signer and message.
    struct FakeSigner;

    impl Signer for FakeSigner {
        fn sign(&self, key: &Path, message: &[u8]) -> Result<String, SignError> {
            let who = key.file_name().unwrap_or_default().to_string_lossy();
            Ok(format!("{who}|{}", String::from_utf8_lossy(message)))
        }
        fn principals(&self, signers: &[u8], signature: &str) -> Result<Vec<String>, SignError> {
            let who = signature.split('|').next().unwrap_or_default();
            let listed = String::from_utf8_lossy(signers)
                .lines()
                .any(|line| line.split_whitespace().next() == Some(who));
            Ok(listed.then(|| who.to_owned()).into_iter().collect())
        }
        fn verify(
            &self,
            signers: &[u8],
            principal: &str,
            message: &[u8],
            signature: &str,
        ) -> Result<(), SignError> {
            let expected = format!("{principal}|{}", String::from_utf8_lossy(message));
            let listed = self
                .principals(signers, signature)?
                .contains(&principal.to_owned());
            if listed && signature == expected {
                Ok(())
            } else {
                Err(SignError::Refused {
                    action: "verify",
                    message: "no".to_owned(),
                })
            }
        }
    }

    fn caps(hosts: &[&str]) -> Capabilities {
        Capabilities {
            network: hosts.iter().map(|h| (*h).to_owned()).collect(),
            secrets: Default::default(),
            mounts: Default::default(),
            limits: ir::Limits {
                memory_bytes: 1 << 27,
                pids: 32,
                cpu_millicores: 500,
                timeout_ms: 20_000,
                tmp_bytes: 1 << 24,
                output_bytes: 1 << 20,
            },
            tools: [(
                "t".to_owned(),
                ToolGate {
                    approval: true,
                    rate: None,
                    timeout_ms: 1_000,
                },
            )]
            .into(),
        }
    }

    const SIGNERS: &[u8] = b"alice namespaces=\"clawc-signoff\" ssh-ed25519 AAAA\n";

    #[test]
    fn a_signoff_holds_until_the_capabilities_widen() {
        let signed = caps(&["a.example:443", "b.example:443"]);
        let signoff = approve(&FakeSigner, "x", &signed, Path::new("/k/alice"), SIGNERS).unwrap();
        assert_eq!(signoff.signer, "alice");
        let check = |current: &Capabilities, signoff: &SignOff| {
            check(&FakeSigner, "x", Some(signoff), current, SIGNERS)
        };
        assert!(matches!(check(&signed, &signoff), Verdict::Holds));
        assert!(matches!(
            check(&caps(&["a.example:443"]), &signoff),
            Verdict::Holds
        ));
        match check(&caps(&["a.example:443", "c.example:443"]), &signoff) {
            Verdict::Widens(changes) => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].text, "network: c.example:443 added");
            }
            other => panic!("{other}"),
        }
        // The sign-off is for one integration: it does not verify for another.
        assert!(matches!(
            check_other(&signed, &signoff),
            Verdict::BadSignature(_)
        ));
        let mut edited = signoff.clone();
        edited.capability_hash = caps(&["c.example:443"]).hash();
        assert!(matches!(check(&signed, &edited), Verdict::Inconsistent));
        let mut wider = signoff.clone();
        wider.capabilities = caps(&["a.example:443", "b.example:443", "c.example:443"]).canonical();
        wider.capability_hash = spec_lang::hash::sha256_prefixed(wider.capabilities.as_bytes());
        assert!(matches!(check(&signed, &wider), Verdict::BadSignature(_)));
        assert!(matches!(
            super::check(&FakeSigner, "x", None, &signed, SIGNERS),
            Verdict::Missing
        ));
    }

    fn check_other(current: &Capabilities, signoff: &SignOff) -> Verdict {
        check(&FakeSigner, "y", Some(signoff), current, SIGNERS)
    }

    #[test]
    fn a_key_outside_the_signers_is_refused() {
        let result = approve(&FakeSigner, "x", &caps(&[]), Path::new("/k/eve"), SIGNERS);
        assert!(matches!(result, Err(ApproveError::NotASigner)));
    }
}
