//! Syntax diagnostic codes E0001–E0009, reported by the parser (`parse.rs`).
use super::CodeInfo;

pub(super) const CODES: &[CodeInfo] = &[
    CodeInfo {
        code: "E0001",
        title: "syntax error",
        explanation: r#"The parser expected something else at this point: a keyword, a name, a
punctuation mark or a value. The message says what would have been accepted.

Example:

```claw
integration weather {
  sumary "Current weather."   // misspelt keyword
}
```

Fix: write one of the expected things. Here the keyword is `summary`:

```claw
integration weather {
  summary "Current weather."
}
```

Items inside `integration` are `version`, `summary`, `target`, `secret`, `network`,
`filesystem`, `limits`, `config`, `type`, `tool`, `intent` and `example`. An empty file is also
this error: every spec declares exactly one `integration NAME { ... }`.
"#,
    },
    CodeInfo {
        code: "E0002",
        title: "nesting too deep",
        explanation: r#"Brackets (`{`, `[`, `(`) are nested more than 64 levels deep. Real specs stay
well below ten levels; deeper input is refused before parsing so that no tool recurses without
bound on it.

Example:

```claw
example "deep" {
  expect { a: [[[[[[[[[[[[[[[[[[[[[[[[ ... ]]]]]]]]]]]]]]]]]]]]]]]] }
}
```

Fix: flatten the structure. Give inner records a name with `type Inner { ... }` and refer to it,
or move large example data into a fixture with `file("fixtures/data.json")`.
"#,
    },
    CodeInfo {
        code: "E0003",
        title: "input too large",
        explanation: r#"The spec file is larger than 1 MiB. Specs describe an integration's interface
and policy; they are a few KiB. A file this large is usually not a spec at all (a data dump or a
binary), or it inlines data that belongs in a fixture.

Example: a `.claw` file with a 5 MB `expect { ... }` value.

Fix: move large example data into fixture files and refer to them with
`file("fixtures/name.json")`, or split the integration into several smaller ones.
"#,
    },
    CodeInfo {
        code: "E0004",
        title: "unterminated string",
        explanation: r#"A string was opened but never closed. A `"..."` string must end on the line
where it starts; a `"""..."""` string must be closed with `"""` before the end of the file.

Example:

```claw
integration notes {
  summary "Read notes.
}
```

Fix: close the string, and use a triple-quoted string for text that spans lines:

```claw
integration notes {
  summary "Read notes."
  intent """
    Text that
    spans lines.
    """
}
```

A quote inside a `"..."` string is written `\"`.
"#,
    },
    CodeInfo {
        code: "E0005",
        title: "invalid escape in string",
        explanation: r#"A `"..."` string uses JSON escapes: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`
and `\uXXXX` (four hex digits; characters beyond U+FFFF as a surrogate pair). Any other
backslash sequence is an error, and so is a lone surrogate.

Example:

```claw
config { path: string pattern("^\d+$") }
```

Fix: double the backslash, so the string contains one:

```claw
config { path: string pattern("^\\d+$") }
```

Triple-quoted strings (`"""..."""`) take no escapes at all.
"#,
    },
    CodeInfo {
        code: "E0006",
        title: "duplicate clause in example",
        explanation: r#"An example has at most one `config`, one `call` and one `expect` clause (it
may have any number of `http` fixtures).

Example:

```claw
example "two calls" {
  call list_issues { state: "open" }
  call list_issues { state: "closed" }
  expect { issues: [] }
}
```

Fix: split it into two examples, each with its own call and expectation.
"#,
    },
    CodeInfo {
        code: "E0007",
        title: "control character in source",
        explanation: r#"The source contains a control character (U+0000–U+001F or U+007F) other
than tab, line feed or carriage return, anywhere — including inside strings and comments. A NUL
byte usually means a binary file was passed as a spec.

Example: a spec saved with a stray `\0` byte, or a string containing a raw form-feed.

Fix: remove the character. Inside a `"..."` string, write it as an escape such as `\u000c`.
"#,
    },
    CodeInfo {
        code: "E0008",
        title: "bidirectional control character in source",
        explanation: r#"The source contains a Unicode bidirectional control character, anywhere —
including inside strings, comments and `///` doc comments. These characters are invisible and
change the order in which an editor or a code review displays the text around them, so a spec
could read as one thing to its reviewer and mean another to `clawc` ("Trojan Source",
CVE-2021-42574; rustc refuses them for the same reason). The refused characters are U+061C
ARABIC LETTER MARK, U+200E LEFT-TO-RIGHT MARK, U+200F RIGHT-TO-LEFT MARK, U+202A–U+202E (the
embeddings, POP DIRECTIONAL FORMATTING and the overrides) and U+2066–U+2069 (the isolates). The
diagnostic names the character and points at its line and column.

Example: a comment crafted so that, on screen, it seems to end earlier than it does (here
`<U+202E>` stands for the invisible character, which really sits in the file):

```claw
network {
  allow "api.example.com:443" // only this host<U+202E>
}
```

Fix: delete the character (an editor that shows invisible characters helps, as does
`grep -nP '[\x{61C}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}]'`). If a string
value really needs one, write it as an escape inside a `"..."` string, e.g. `"\u202e"`, which
is visible to every reviewer; `clawc fmt` keeps such escapes as escapes.
"#,
    },
    CodeInfo {
        code: "E0009",
        title: "internal parser error",
        explanation: r#"The grammar accepted the input but the parser could not build a syntax tree
from it. This is a bug in clawc, not in the spec.

Example: none is known; any input that triggers this is a bug.

Fix: please report it together with the spec that triggers it. Until it is fixed, rewriting
the construct near the reported position usually avoids it.
"#,
    },
];
