//! Codes for input that is not text at all (checked before parsing).
use super::CodeInfo;

/// The source bytes are not UTF-8.
pub const NOT_UTF8: &str = "E0090";

pub(super) const CODES: &[CodeInfo] = &[CodeInfo {
    code: NOT_UTF8,
    title: "the file is not valid UTF-8",
    explanation: r#"A `.claw` file must be UTF-8 text. The diagnostic points at the first byte
that is not part of a valid UTF-8 character.

This happens when a spec was saved in another encoding (Latin-1, UTF-16) or when a binary file
was given a `.claw` name. For example, this line saved as Latin-1 stores `é` as the single
byte `0xE9`, which is not UTF-8:

```claw
  summary "Reads the café's menu."
```

**Fix:** re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 old.claw > new.claw`."#,
}];
