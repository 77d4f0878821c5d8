//! Review end to end: `clawc diff` against a real git repository (a base commit, then changes
//! made and re-pinned as a user would), SSH-signed sign-off with real `ssh-keygen`, and
//! `clawc verify --require-signoff` trusting only the base's signers file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

use crate::hand::hand_transcript;
use crate::support::{clawc, native_available, settings};

/// A shop integration with one of everything a review looks at: a secret, a host, a mount, a
/// tool that needs approval and is rate limited.
pub const SPEC: &str = r#"// Items in the Example API.
integration shop {
  version "0.1.0"
  summary "Look up and rename items in the Example API."
  target python

  secret token {
    inject header "Authorization" = "Bearer {value}" into "api.example.com"
  }

  network {
    allow "api.example.com:443"
  }

  filesystem {
    mount "/srv/shop" at "/data" ro
  }

  limits { memory 128MiB  pids 32  cpu 0.5  timeout 20s }

  type Item {
    id: int min(1)
    name: string
  }

  tool get_item {
    description "Fetch one item by its id."
    input { id: int min(1) }
    output { item: Item }
  }

  tool rename_item {
    description "Rename one item. Needs a human's approval."
    input { id: int min(1), name: string }
    output { item: Item }
    approval required
    rate 10 per hour
  }

  intent """
    get_item is GET https://api.example.com/items/{id}; rename_item is PUT of {"name": ...} to
    the same URL. Both return the item as JSON ({"id": 1, "name": "..."}) as `item`.
    """

  example "fetches an item" {
    call get_item { id: 1 }
    http GET "https://api.example.com/items/1" -> 200 json { id: 1, name: "first" }
    expect { item: { id: 1, name: "first" } }
  }

  example "renames an item" {
    call rename_item { id: 1, name: "renamed" }
    http PUT "https://api.example.com/items/1" body json { name: "renamed" }
      -> 200 json { id: 1, name: "renamed" }
    expect { item: { id: 1, name: "renamed" } }
  }
}
"#;

/// Hand-written tool code for [`SPEC`].
pub const TOOLS_PY: &str = r#"from clawc import http


def get_item(args, ctx):
    return {"item": http.get("https://api.example.com/items/%d" % args["id"]).json()}


def rename_item(args, ctx):
    response = http.put("https://api.example.com/items/%d" % args["id"],
                        json={"name": args["name"]})
    return {"item": response.json()}
"#;

/// A git repository holding a pinned project.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// `shop` written, pinned through the replay generator, and committed as the base.
    pub fn pinned() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(".gitignore", ".clawc/\n");
        repo.write("specs/shop.claw", SPEC);
        repo.write(
            "golden/shop/transcript.jsonl",
            &hand_transcript("shop", &[("generated/tools.py", TOOLS_PY)]),
        );
        repo.build();
        repo.commit("base");
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        fs::read_to_string(self.root().join(path)).unwrap()
    }

    /// The spec with `from` replaced by `to` (which must occur).
    pub fn edit_spec(&self, from: &str, to: &str) {
        let spec = self.read("specs/shop.claw");
        assert!(spec.contains(from), "{from:?} is not in the spec");
        self.write("specs/shop.claw", &spec.replacen(from, to, 1));
    }

    /// Pins `code` as the new implementation, as a regeneration would: the old pin (tree and
    /// lock entry) goes, the build re-derives one from the new transcript.
    pub fn repin(&self, code: &str) {
        fs::remove_dir_all(self.root().join("golden/shop")).unwrap();
        self.write("claw.lock", "version = 1\n");
        self.write(
            "golden/shop/transcript.jsonl",
            &hand_transcript("shop", &[("generated/tools.py", code)]),
        );
        self.build();
    }

    /// One more `allow "ENDPOINT"` line in the spec's network block.
    pub fn allow(&self, endpoint: &str) {
        self.edit_spec(
            "allow \"api.example.com:443\"",
            &format!("allow \"api.example.com:443\"\n    allow \"{endpoint}\""),
        );
    }

    pub fn build(&self) {
        let out = self.clawc(&["build", "--generator", "replay"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.root())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// `clawc review approve shop` with `reviewer`'s key; it must succeed.
    pub fn approve(&self, reviewer: &Reviewer) {
        let out = self.try_approve(reviewer);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    pub fn try_approve(&self, reviewer: &Reviewer) -> Output {
        let key = reviewer.key.to_str().expect("a UTF-8 temp path");
        self.clawc(&["review", "approve", "shop", "--key", key])
    }

    pub fn clawc(&self, args: &[&str]) -> Output {
        clawc()
            .args(args)
            .current_dir(self.root())
            .output()
            .expect("clawc runs")
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn markdown(repo: &Repo) -> String {
    let out = repo.clawc(&["diff", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Snapshot settings for a diff: the base commit's short hash varies.
fn diff_settings(repo: &Repo) -> insta::Settings {
    let mut settings = settings(Some(repo.root()));
    settings.add_filter(r"HEAD \([0-9a-f]{7}\)", "HEAD ([COMMIT])");
    settings.add_filter(r"@@ -\d+,\d+ \+\d+,\d+ @@", "@@ [HUNK] @@");
    // The scaffold templates' hash, shortened: it moves with every template change.
    settings.add_filter(r"sha256:[0-9a-f]{12}`", "sha256:[SHORT]`");
    settings
}

#[test]
fn markdown_diff_of_a_host_added() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    repo.allow("uploads.example.com:443");
    repo.build();
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_host_added", markdown(&repo)));
}

#[test]
fn markdown_diff_of_a_secret_sent_to_one_more_host() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    repo.edit_spec(
        "into \"api.example.com\"",
        "into \"api.example.com\", \"uploads.example.com\"",
    );
    repo.allow("uploads.example.com:443");
    repo.build();
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_secret_widened", markdown(&repo)));
}

#[test]
fn markdown_diff_of_a_mount_made_writable() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    repo.edit_spec("at \"/data\" ro", "at \"/data\" rw");
    repo.build();
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_mount_rw", markdown(&repo)));
}

#[test]
fn markdown_diff_of_approval_dropped() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    repo.edit_spec("    approval required\n", "");
    repo.build();
    diff_settings(&repo).bind(|| {
        insta::assert_snapshot!("diff_approval_dropped", markdown(&repo));
    });
}

#[test]
fn markdown_diff_of_a_tool_added() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    repo.edit_spec(
        "  intent \"\"\"",
        "  tool delete_item {\n    description \"Delete one item.\"\n    input { id: int min(1) }\n    output { deleted: bool }\n  }\n\n  intent \"\"\"",
    );
    let code = format!(
        "{TOOLS_PY}\n\ndef delete_item(args, ctx):\n    http.delete(\"https://api.example.com/items/%d\" % args[\"id\"])\n    return {{\"deleted\": True}}\n"
    );
    repo.repin(&code);
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_tool_added", markdown(&repo)));
}

#[test]
fn markdown_diff_of_a_code_only_change() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    let code = TOOLS_PY.replace(
        "def get_item(args, ctx):\n",
        "def get_item(args, ctx):\n    # The id is already validated against the input schema.\n",
    );
    repo.repin(&code);
    let shown = markdown(&repo);
    assert!(shown.contains("generated/tools.py"), "{shown}");
    assert!(!shown.contains("**Capabilities**"), "{shown}");
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_code_only", shown));
}

#[test]
fn markdown_diff_of_a_scaffold_only_change() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    // What a new clawc's templates do to a pinned tree: every scaffold file re-rendered, the
    // lock's template hash moved, spec and generated code untouched. Simulated on the base's
    // side (an older template hash and older scaffold text), since this clawc has one set of
    // templates.
    let lock = repo.read("claw.lock");
    let template = lock
        .lines()
        .find_map(|l| l.strip_prefix("template_hash = \""))
        .map(|l| l.trim_end_matches('"').to_owned())
        .expect("template hash");
    let old_hash = format!("sha256:{}", "0".repeat(64));
    repo.write("claw.lock", &lock.replace(&template, &old_hash));
    let scaffold =
        ["golden/shop/main.py", "golden/shop/clawc/http.py"].map(|path| (path, repo.read(path)));
    for (path, current) in &scaffold {
        repo.write(path, &format!("# rendered by an older template\n{current}"));
    }
    repo.commit("the pin of an older clawc");
    // This clawc's pin of the same spec and code.
    repo.write("claw.lock", &lock);
    for (path, current) in &scaffold {
        repo.write(path, current);
    }
    let verified = repo.clawc(&["verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let shown = markdown(&repo);
    assert!(shown.contains("Scaffold: 2 files re-rendered"), "{shown}");
    assert!(!shown.contains("clawc/http.py"), "{shown}");
    diff_settings(&repo).bind(|| insta::assert_snapshot!("diff_scaffold_only", shown));
}

#[test]
fn diff_exit_codes_and_formats() {
    if !native_available() {
        return;
    }
    let repo = Repo::pinned();
    let clean = repo.clawc(&["diff"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("no integration changed"));
    let unknown = repo.clawc(&["diff", "--base", "no-such-revision"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-revision"));
    // A revision that git would read as an option reaches clawc (as `--base=…`) and is
    // refused there, not handed to git.
    let option = repo.clawc(&["diff", "--base=--output=/tmp/x"]);
    assert_eq!(option.status.code(), Some(2), "{}", text(&option));
    assert!(
        String::from_utf8_lossy(&option.stderr).contains("cannot start with `-`"),
        "{}",
        text(&option)
    );
    let name = repo.clawc(&["diff", "nope"]);
    assert_eq!(name.status.code(), Some(2), "{}", text(&name));

    repo.edit_spec("    rate 10 per hour\n", "    rate 100 per hour\n");
    repo.build();
    let json = repo.clawc(&["diff", "--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(value["widening"], 1);
    assert_eq!(value["unsigned_widening"], json!(["shop"]));
    let change = &value["integrations"][0]["capabilities"][0];
    assert_eq!(change["class"], "widening");
    assert_eq!(
        change["text"],
        "tool `rename_item`: rate raised: 10 per hour → 100 per hour"
    );
    let line = SPEC
        .lines()
        .position(|l| l.contains("rate 10 per hour"))
        .unwrap()
        + 1;
    assert_eq!(change["line"], line);
    assert_eq!(change["file"], "specs/shop.claw");
    let failing = repo.clawc(&["diff", "--fail-on", "widening"]);
    assert_eq!(failing.status.code(), Some(1), "{}", text(&failing));
    // A narrowing does not fail.
    repo.edit_spec("    rate 100 per hour\n", "    rate 5 per hour\n");
    repo.build();
    let narrowing = repo.clawc(&["diff", "--fail-on", "widening", "--format", "text"]);
    assert_eq!(narrowing.status.code(), Some(0), "{}", text(&narrowing));
    assert!(String::from_utf8_lossy(&narrowing.stdout)
        .contains("narrowing tool `rename_item`: rate lowered: 10 per hour → 5 per hour"));
}

/// A reviewer: an ed25519 key made by ssh-keygen, and their line for an allowed-signers file.
pub struct Reviewer {
    pub key: PathBuf,
    pub signers_line: String,
}

impl Reviewer {
    pub fn new(dir: &Path, email: &str) -> Reviewer {
        let key = dir.join(email.replace(['@', '.'], "_"));
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", email, "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen runs (apt install openssh-client)");
        assert!(out.status.success(), "{}", text(&out));
        let public = fs::read_to_string(key.with_extension("pub")).unwrap();
        let mut parts = public.split_whitespace();
        let (kind, blob) = (parts.next().unwrap(), parts.next().unwrap());
        Reviewer {
            key,
            signers_line: format!("{email} namespaces=\"clawc-signoff\" {kind} {blob}\n"),
        }
    }
}

fn keys() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn verify_signoff(repo: &Repo, signers_from: &str) -> Output {
    repo.clawc(&[
        "verify",
        "--require-signoff",
        "--signers-from",
        signers_from,
        "--format",
        "github",
    ])
}

#[test]
fn a_widening_needs_a_signoff_by_a_key_the_base_trusts() {
    if !native_available() {
        return;
    }
    let keys = keys();
    let alice = Reviewer::new(keys.path(), "alice@example.com");
    let repo = Repo::pinned();
    repo.write("clawc.allowed_signers", &alice.signers_line);
    repo.approve(&alice);
    assert!(repo
        .read("claw.lock")
        .contains("signer = \"alice@example.com\""));
    let base = repo.commit("alice signs off shop");
    let signed = verify_signoff(&repo, &base);
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed));

    // The change under review widens: a new host, no new sign-off.
    repo.allow("evil.example:443");
    repo.build();
    let unsigned = verify_signoff(&repo, &base);
    assert_eq!(unsigned.status.code(), Some(1), "{}", text(&unsigned));
    let line = repo
        .read("specs/shop.claw")
        .lines()
        .position(|l| l.contains("evil.example"))
        .unwrap()
        + 1;
    let annotations = String::from_utf8_lossy(&unsigned.stdout).into_owned();
    assert!(
        annotations.contains(&format!(
            "::error file=specs/shop.claw,line={line}::`shop` widens beyond its signed-off capabilities: network: evil.example:443 added"
        )),
        "{annotations}"
    );
    settings(Some(repo.root())).bind(|| {
        insta::assert_snapshot!("verify_github_annotations_widening", annotations);
    });

    // Mallory, not in the base's signers, adds herself in the same change and signs it off.
    let mallory = Reviewer::new(keys.path(), "mallory@example.com");
    repo.write(
        "clawc.allowed_signers",
        &format!("{}{}", alice.signers_line, mallory.signers_line),
    );
    repo.approve(&mallory);
    let self_signed = verify_signoff(&repo, &base);
    assert_eq!(self_signed.status.code(), Some(1), "{}", text(&self_signed));
    assert!(
        String::from_utf8_lossy(&self_signed.stdout).contains("signature does not verify"),
        "{}",
        text(&self_signed)
    );
    // The work tree's copy would have let it through: that is why it is never the trust root.
    let diff = repo.clawc(&["diff", "--base", &base, "--fail-on", "widening"]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));

    // Alice, trusted by the base, signs the widening off: it passes.
    repo.write("clawc.allowed_signers", &alice.signers_line);
    repo.approve(&alice);
    let covered = verify_signoff(&repo, &base);
    assert_eq!(covered.status.code(), Some(0), "{}", text(&covered));
    let diff = repo.clawc(&[
        "diff",
        "--base",
        &base,
        "--fail-on",
        "widening",
        "--format",
        "markdown",
    ]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("✅ alice@example.com"));
}

#[test]
fn a_key_outside_the_signers_file_cannot_sign_off() {
    if !native_available() {
        return;
    }
    let keys = keys();
    let alice = Reviewer::new(keys.path(), "alice@example.com");
    let eve = Reviewer::new(keys.path(), "eve@example.com");
    let repo = Repo::pinned();
    repo.write("clawc.allowed_signers", &alice.signers_line);
    let refused = repo.try_approve(&eve);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not in clawc.allowed_signers"));
    assert!(!repo.read("claw.lock").contains("[signoff."));

    // Eve signs with her key and writes alice's name by hand: the signature is not alice's.
    let message = repo.root().join("message");
    let hash_line = {
        repo.approve(&alice);
        repo.read("claw.lock")
    };
    let hash = hash_line
        .lines()
        .find_map(|l| l.strip_prefix("capability_hash = \""))
        .map(|h| h.trim_end_matches('"').to_owned())
        .unwrap();
    fs::write(
        &message,
        format!("clawc capability sign-off v1\nintegration shop\ncapabilities {hash}\n"),
    )
    .unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-q", "-n", "clawc-signoff", "-f"])
        .arg(&eve.key)
        .arg(&message)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let forged = fs::read_to_string(message.with_extension("sig")).unwrap();
    let lock = repo.read("claw.lock");
    let start = lock.find("signature = \"").unwrap();
    let end = start + lock[start..].find('\n').unwrap();
    let escaped = forged.replace('\n', "\\n");
    repo.write(
        "claw.lock",
        &format!(
            "{}signature = \"{escaped}\"{}",
            &lock[..start],
            &lock[end..]
        ),
    );
    let base = repo.commit("a forged sign-off");
    let out = verify_signoff(&repo, &base);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("signature does not verify"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_hand_edited_capability_hash_fails_and_a_narrowing_keeps_the_signoff() {
    if !native_available() {
        return;
    }
    let keys = keys();
    let alice = Reviewer::new(keys.path(), "alice@example.com");
    let repo = Repo::pinned();
    repo.write("clawc.allowed_signers", &alice.signers_line);
    repo.approve(&alice);
    let base = repo.commit("signed off");

    // A narrowing (a lower memory limit): re-pinned, no new sign-off needed, the old one kept.
    repo.edit_spec("memory 128MiB", "memory 64MiB");
    repo.build();
    assert!(
        repo.read("claw.lock").contains("[signoff.shop]"),
        "a build keeps the sign-off"
    );
    let narrowed = verify_signoff(&repo, &base);
    assert_eq!(narrowed.status.code(), Some(0), "{}", text(&narrowed));

    // The capability hash edited by hand (as if to match a wider set).
    let lock = repo.read("claw.lock");
    let start =
        lock.find("capability_hash = \"sha256:").unwrap() + "capability_hash = \"sha256:".len();
    let flipped = if &lock[start..=start] == "0" {
        "1"
    } else {
        "0"
    };
    repo.write(
        "claw.lock",
        &format!("{}{flipped}{}", &lock[..start], &lock[start + 1..]),
    );
    let edited = verify_signoff(&repo, &base);
    assert_eq!(edited.status.code(), Some(1), "{}", text(&edited));
    assert!(
        String::from_utf8_lossy(&edited.stdout).contains("capability_hash is not the hash"),
        "{}",
        text(&edited)
    );

    // No signers file in the trusted revision: nothing can be trusted.
    repo.write("claw.lock", &lock);
    let first = repo.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let untrusted = verify_signoff(&repo, &first);
    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    assert!(
        String::from_utf8_lossy(&untrusted.stdout).contains("there is no clawc.allowed_signers")
    );
}
