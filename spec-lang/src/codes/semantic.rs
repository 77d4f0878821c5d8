//! Checker diagnostic codes E0010 and up, and warnings W0001 and up.
//! The constants live beside the checker (`check/code.rs`); this is their documentation.
use super::CodeInfo;
use crate::check::code;

pub(super) const CODES: &[CodeInfo] = &[
    CodeInfo {
        code: code::NAME_MISMATCH,
        title: "integration name does not match the file name",
        explanation: "The integration's name must equal the spec's file name without `.claw`: generated code lives in `golden/NAME/` and the lock entry is keyed by NAME, so the two must line up.

```claw
// in specs/weather.claw
integration forecast {
  ...
}
```

**Fix:** Rename the integration (`integration weather`) or the file (`forecast.claw`).
",
    },
    CodeInfo {
        code: code::MISSING_ITEM,
        title: "a required item is missing",
        explanation: "Some items must be present: an integration needs `version`, `summary`, `target` and `intent`; a tool needs a `description`; an example needs a `call` and an `expect`.

```claw
tool list_issues {
  input { limit: int }
}
```

**Fix:** Add the missing item, e.g. `description \"List issues, newest first.\"`.
",
    },
    CodeInfo {
        code: code::REPEATED_ITEM,
        title: "an item that may appear once appears again",
        explanation: "`version`, `summary`, `target`, `intent` and `config` appear at most once per integration; `description`, `input`, `output`, `approval`, `rate` and `timeout` at most once per tool; each limit key at most once; an example states each mount's files at most once `before` and once `after` the call. A second one would leave it unclear which applies.

```claw
integration demo {
  version \"0.1.0\"
  version \"0.2.0\"
}
```

**Fix:** Keep one of them.
",
    },
    CodeInfo {
        code: code::INVALID_VERSION,
        title: "the version is not a semantic version",
        explanation: "`version` must follow Semantic Versioning 2.0.0: `MAJOR.MINOR.PATCH`, optionally followed by `-PRERELEASE` and `+BUILD`, numbers without leading zeros.

```claw
version \"1.0\"
```

**Fix:** Write all three numbers: `version \"1.0.0\"`.
",
    },
    CodeInfo {
        code: code::UNKNOWN_TARGET,
        title: "unknown target language",
        explanation: "`target` names the language of the generated code. Only `python` (standard library only) is supported.

```claw
target pyton
```

**Fix:** Write `target python`.
",
    },
    CodeInfo {
        code: code::DUPLICATE_NAME,
        title: "a name is defined more than once",
        explanation: "Names must be unique within their kind: types, tools, secrets, examples, fields of one record, keys of one object, literals of one union, mount targets, network entries, the plaintext hosts of one secret, the file paths of one `files` clause and the bounds a type's constraints set. Types may also not reuse the built-in names `string`, `int`, `float`, `bool` and `any`. The second definition is reported, with the first one labelled.

```claw
type Issue { number: int }
type Issue { title: string }
```

**Fix:** Rename or remove one of the two definitions.
",
    },
    CodeInfo {
        code: code::UNKNOWN_TYPE,
        title: "unknown type name",
        explanation: "A type name must be a built-in (`string`, `int`, `float`, `bool`, `any`) or a type declared with `type NAME ...` somewhere in the same spec (order does not matter). Close misspellings are suggested.

```claw
output { issues: [Isue] }
```

**Fix:** Fix the spelling (`[Issue]`) or declare the type.
",
    },
    CodeInfo {
        code: code::UNKNOWN_TOOL,
        title: "an example calls a tool that does not exist",
        explanation: "`call TOOL { ... }` in an example must name a tool declared in the same spec. Close misspellings are suggested.

```claw
example \"lists\" {
  call list_issue { }
  expect { issues: [] }
}
```

**Fix:** Call a declared tool: `call list_issues { }`.
",
    },
    CodeInfo {
        code: code::INFINITE_TYPE,
        title: "a recursive type has no finite value",
        explanation: "A type may refer to itself only through something that can end: an optional field, a field with a default, or a list (which may be empty). Otherwise every value would have to contain another value of the same type, forever, and no example or real response could ever match it.

```claw
type Node { value: int, next: Node }
```

**Fix:** Make the recursion optional: `next?: Node`, or use a list: `children: [Node]`.
",
    },
    CodeInfo {
        code: code::UNKNOWN_CONSTRAINT,
        title: "unknown constraint",
        explanation: "The constraints are `min(n)`, `max(n)`, `range(a, b)` (numbers), `min_len(n)`, `max_len(n)`, `pattern(\"re\")`, `format(name)` (strings), `min_items(n)`, `max_items(n)` and `unique` (lists).

```claw
name: string maxlen(80)
```

**Fix:** Use a known constraint: `max_len(80)`.
",
    },
    CodeInfo {
        code: code::CONSTRAINT_MISMATCH,
        title: "the constraint does not apply to the type",
        explanation: "Each constraint applies to one kind of type: number bounds to `int` and `float`, length, pattern and format to `string`, item counts and `unique` to lists. Constraints on a named type apply to what the name stands for.

```claw
count: int pattern(\"^[0-9]+$\")
```

**Fix:** Remove the constraint or change the type: `count: int min(0)`.
",
    },
    CodeInfo {
        code: code::INVALID_CONSTRAINT_ARGUMENT,
        title: "a constraint has invalid arguments",
        explanation: "Constraint arguments must have the right number and kind: numbers for `min`/`max`/`range` (whole numbers on an `int`), whole non-negative counts for lengths and item counts, a valid regular expression for `pattern`, and one of `uri`, `email`, `date-time`, `date`, `hostname`, `ipv4`, `ipv6`, `uuid` for `format`.

```claw
repo: string pattern(\"([a-z]+\")
```

**Fix:** Fix the argument: `pattern(\"^[a-z]+$\")`.
",
    },
    CodeInfo {
        code: code::EMPTY_RANGE,
        title: "a lower bound is greater than the upper bound",
        explanation: "`min` above `max`, `min_len` above `max_len` or `min_items` above `max_items` leaves no valid value at all.

```claw
limit: int min(10) max(5)
```

**Fix:** Swap or correct the bounds: `limit: int range(5, 10)`.
",
    },
    CodeInfo {
        code: code::INVALID_ADDRESS,
        title: "invalid host or host:port",
        explanation: "Network entries are `host:port`; secret injection targets are hosts. A host is a DNS name (labels of letters, digits and `-`), an IPv4 address or a bracketed IPv6 address. The port is 1 to 65535 and must be written. A wildcard is only allowed as a leading `*.` and matches names strictly below it, so `*.example.com` matches `api.example.com` but not `example.com`; wildcards over a top-level domain (`*.com`) are refused.

```claw
network { allow \"api.github.com\" }
```

**Fix:** Write the port: `allow \"api.github.com:443\"`.
",
    },
    CodeInfo {
        code: code::SECRET_HOST_NOT_ALLOWED,
        title: "a secret is injected into a host that is not allowlisted",
        explanation: "The egress proxy injects a secret only into requests to the hosts listed after `into`, and those requests must be allowed by `network`. A host that is not allowlisted could never receive the secret, and is most likely a typo.

```claw
secret token { inject header \"Authorization\" = \"Bearer {value}\" into \"api.github.com\" }
network { allow \"github.com:443\" }
```

**Fix:** Allowlist the host (`allow \"api.github.com:443\"`) or fix the injection target.
",
    },
    CodeInfo {
        code: code::INVALID_INJECTION,
        title: "invalid secret injection",
        explanation: "A header name must be an HTTP token (letters, digits and `!#$%&'*+-.^_`|~`); a query parameter name must not be empty; a template must contain `{value}`, which the proxy replaces with the secret.

```claw
inject header \"Authorization\" = \"Bearer token\" into \"api.example.com\"
```

**Fix:** Put `{value}` where the secret goes: `= \"Bearer {value}\"`.
",
    },
    CodeInfo {
        code: code::UNUSED_SECRET,
        title: "a secret is never injected",
        explanation: "The sandbox never sees a secret: the egress proxy adds it to requests. A secret without any `inject` line can therefore never be used.

```claw
secret api_key { }
```

**Fix:** Add an injection: `inject query \"appid\" into \"api.openweathermap.org\"`, or remove the secret.
",
    },
    CodeInfo {
        code: code::INVALID_MOUNT,
        title: "invalid mount path",
        explanation: "Mount sources and targets must be absolute, normalised paths (no `.`, `..`, `//` or trailing `/`). The source may not be `/`. The target may not be, hide (as an ancestor) or lie inside a path the sandbox provides itself: `/`, `/usr`, `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32`, `/proc`, `/dev`, `/tmp`, `/etc/ssl/certs`, `/run/clawc` (a mount at `/run` would hide the sandbox's init), `/opt/clawc` (the integration's own pinned code).

```claw
filesystem { mount \"notes\" at \"/usr/notes\" ro }
```

**Fix:** Use absolute paths and a free target: `mount \"/srv/notes\" at \"/notes\" ro`.
",
    },
    CodeInfo {
        code: code::INVALID_QUANTITY,
        title: "invalid size, duration or number",
        explanation: "Each limit takes one kind of quantity: sizes (`memory`, `tmp`, `output`) take `B`, `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024); durations (`timeout`) take `ms`, `s`, `m` or `h`; `pids` is a whole number and `cpu` a number of cores with at most three decimals. Values must come out as whole bytes or milliseconds.

```claw
limits { memory 128 timeout 5 }
```

**Fix:** Add the units: `limits { memory 128MiB timeout 5s }`.
",
    },
    CodeInfo {
        code: code::LIMIT_OUT_OF_RANGE,
        title: "a limit is out of range",
        explanation: "Limits must lie in these ranges: `memory` 4MiB to 16GiB, `pids` 1 to 4096, `cpu` 0.01 to 64, `timeout` 100ms to 1h (also a tool's `timeout`), `tmp` 1MiB to 4GiB, `output` 1KiB to 64MiB.

```claw
limits { pids 100000 }
```

**Fix:** Choose a value in range: `pids 64`.
",
    },
    CodeInfo {
        code: code::UNKNOWN_LIMIT,
        title: "unknown limit key",
        explanation: "The limits are `memory`, `pids`, `cpu`, `timeout`, `tmp` and `output`. Close misspellings are suggested.

```claw
limits { mem 128MiB }
```

**Fix:** Use a known key: `memory 128MiB`.
",
    },
    CodeInfo {
        code: code::INVALID_RATE,
        title: "invalid rate limit",
        explanation: "`rate N per PERIOD` allows at most N calls per period: N is a whole number from 1, PERIOD is `second`, `minute`, `hour` or `day`.

```claw
rate 0 per minute
```

**Fix:** Write a positive count: `rate 10 per minute` (remove a tool rather than rating it at 0).
",
    },
    CodeInfo {
        code: code::INVALID_VALUE,
        title: "invalid value",
        explanation: "Values are JSON with bare-word object keys: a bare word such as `open` is not a value (write `\"open\"`), numbers must be valid JSON numbers, and a `text` body must be a string or `file(...)`.

```claw
call list_issues { state: open }
```

**Fix:** Quote the string: `state: \"open\"`.
",
    },
    CodeInfo {
        code: code::INVALID_URL,
        title: "invalid fixture URL",
        explanation: "An `http` fixture's URL must be absolute `http://` or `https://`, with a valid host, an optional port from 1 to 65535, no spaces and no credentials (secrets are injected by the proxy, never written into URLs).

```claw
http GET \"/repos/octo/hello/issues\" -> 200 json []
```

**Fix:** Write the full URL: `\"https://api.github.com/repos/octo/hello/issues\"`.
",
    },
    CodeInfo {
        code: code::FIXTURE_HOST_NOT_ALLOWED,
        title: "a fixture calls a host outside the network allowlist",
        explanation: "The generated code can only reach allowlisted `host:port` pairs, so a fixture for any other host could never be used. The port defaults to 443 for `https` and 80 for `http`; wildcards match names strictly below them.

```claw
network { allow \"api.github.com:443\" }
...
http GET \"https://github.com/octo\" -> 200 text \"ok\"
```

**Fix:** Allowlist the host (`allow \"github.com:443\"`) or fix the URL.
",
    },
    CodeInfo {
        code: code::INVALID_STATUS,
        title: "invalid HTTP status code",
        explanation: "A fixture's status code must be a number from 100 to 599.

```claw
-> 2000 json {}
```

**Fix:** Write a real status code: `-> 200 json {}`.
",
    },
    CodeInfo {
        code: code::INVALID_METHOD,
        title: "unknown HTTP method",
        explanation: "A fixture's method is one of `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`, `OPTIONS`, in capitals.

```claw
http get \"https://api.example.com/x\" -> 200 json {}
```

**Fix:** Write the method in capitals: `http GET ...`.
",
    },
    CodeInfo {
        code: code::UNREADABLE_FIXTURE,
        title: "a fixture file cannot be read",
        explanation: "`file(\"path\")` loads a file relative to the spec's directory. The file must exist and be readable, and the path must stay inside the spec's directory (relative, no `..`).

```claw
-> 200 json file(\"fixtures/issue.json\")   // but the file is missing
```

**Fix:** Create the file, or fix the path.
",
    },
    CodeInfo {
        code: code::MALFORMED_FIXTURE,
        title: "a fixture file has invalid contents",
        explanation: "A file used as `json` must hold valid JSON; a file used as `text` must be UTF-8.

```claw
-> 200 json file(\"fixtures/page.html\")
```

**Fix:** Fix the file, use `text file(...)` for non-JSON bodies, or write the body inline.
",
    },
    CodeInfo {
        code: code::INVALID_ARGUMENTS,
        title: "example arguments do not match the tool's input",
        explanation: "An example's `call TOOL { ... }` arguments are validated against the JSON Schema of the tool's `input`: every required field present, no unknown fields, every value of the declared type and within its constraints.

```claw
tool list_issues { input { limit: int range(1, 100) } ... }
example \"x\" { call list_issues { limit: 500 } ... }
```

**Fix:** Fix the arguments (`limit: 50`) or the tool's input.
",
    },
    CodeInfo {
        code: code::INVALID_EXPECTED_OUTPUT,
        title: "an example's expected output does not match the tool's output",
        explanation: "`expect { ... }` is validated against the JSON Schema of the tool's `output`, exactly like a real result would be. To expect a failure, write `expect error \"message\"`.

```claw
output { url: string format(uri) }
...
expect { link: \"https://x\" }
```

**Fix:** Use the declared fields: `expect { url: \"https://x\" }`.
",
    },
    CodeInfo {
        code: code::INVALID_CONFIG,
        title: "an example's config does not match the config block",
        explanation: "Each example runs with its `config { ... }` (or `{}` when it has none), validated against the integration's `config` block: required fields present, no unknown fields, values of the declared types.

```claw
config { repo: string }
...
example \"x\" { call list_issues { } expect { issues: [] } }   // no config
```

**Fix:** Give the example a config: `config { repo: \"octo/hello\" }`.
",
    },
    CodeInfo {
        code: code::INVALID_DEFAULT,
        title: "a default does not match its field's type",
        explanation: "A field's `= default` must itself be a valid value of the field's type and constraints.

```claw
limit: int range(1, 100) = 500
```

**Fix:** Choose a default in range: `= 20`.
",
    },
    CodeInfo {
        code: code::INVALID_PLAINTEXT_HOST,
        title: "a plaintext host is not exactly one of the secret's injection hosts",
        explanation: "`plaintext \"HOST\"` inside a `secret` block lets the egress proxy send that secret to HOST over plain HTTP, which it otherwise refuses (and records). It only relaxes an injection the secret already has, so every host it names must be one of the secret's `into` hosts, written exactly: not a wildcard (that would send the secret unencrypted to every name below it), and not a name that a wildcard `into` host merely covers. Close misspellings of an injection host are suggested.

```claw
secret ha_token {
  inject header \"Authorization\" = \"Bearer {value}\" into \"homeassistant.local\"
  plaintext \"homeassistant.locl\"
}
```

**Fix:** Name the injection host exactly (`plaintext \"homeassistant.local\"`); for a host covered only by a wildcard, add it to an `into` list by name first.
",
    },
    CodeInfo {
        code: code::UNKNOWN_MOUNT,
        title: "a `files` clause names no declared mount",
        explanation: "`files \"TARGET\" before { ... }` and `files \"TARGET\" after { ... }` describe the contents of a folder the integration mounts, so TARGET must be exactly the `at` path of one of the spec's `filesystem` mounts. A close misspelling of a declared target is suggested.

```claw
filesystem { mount \"/srv/notes\" at \"/notes\" rw }

example \"lists notes\" {
  files \"/note\" before { \"a.md\" = \"# A\\n\" }
  ...
}
```

**Fix:** Write the mount's target (`files \"/notes\" before`), or declare the mount first.
",
    },
    CodeInfo {
        code: code::READ_ONLY_AFTER,
        title: "a `files ... after` clause names a read-only mount",
        explanation: "`files \"TARGET\" after { ... }` states what a call changed in a mount. A mount declared `ro` cannot change: it holds its `before` files afterwards, so the clause would only repeat them (or contradict them).

```claw
filesystem { mount \"/srv/recipes\" at \"/recipes\" ro }

example \"reads a recipe\" {
  files \"/recipes\" after { \"soup.md\" = \"...\" }
  ...
}
```

**Fix:** Drop the clause; if the tool must write there, mount the folder `rw`.
",
    },
    CodeInfo {
        code: code::INVALID_FILE_PATH,
        title: "a file path in a `files` clause is invalid",
        explanation: "Each file in a `files` clause is named by its path relative to the mount: folder names separated by `/`, no leading `/`, no empty segment (`//` or a trailing `/`), no `.` or `..` segment, no `\\` and no control characters; at most 4096 bytes, each name at most 255. Hidden names such as `.obsidian/app.json` are allowed, so that an example can prove the code skips them. A path cannot be both a file and the folder of another file in the same clause.

```claw
files \"/notes\" before {
  \"../secrets.md\" = \"...\"
  \"work\" = \"...\"
  \"work/todo.md\" = \"...\"
}
```

**Fix:** Write a normalised relative path such as `\"work/todo.md\"`, and give a file and a folder different names.
",
    },
    CodeInfo {
        code: code::FILES_TOO_LARGE,
        title: "a `files` clause holds too much",
        explanation: "One `files` clause holds at most 256 files and at most 8 MiB of contents in all (the limit of one fixture file). Examples are tests: a few files that show the behaviour, not a copy of a real folder.

```claw
files \"/notes\" before {
  \"big.md\" = file(\"fixtures/notes/a-whole-vault-in-one-file.md\")   // 20 MiB
}
```

**Fix:** Cut the seeded folder down to what the example needs.
",
    },
    CodeInfo {
        code: code::RESERVED_SEPARATOR,
        title: "a name contains `__`",
        explanation: "The gateway serves every tool as `<integration>__<tool>`. An integration or tool name with `__` inside would make that name ambiguous (`a__b__c` could be `a` + `b__c` or `a__b` + `c`), so neither may contain it.

```claw
integration github__issues {
  tool list__open { ... }
}
```

**Fix:** Use single underscores: `github_issues`, `list_open`.
",
    },
    CodeInfo {
        code: code::TOOL_WITHOUT_EXAMPLE,
        title: "a tool has no example",
        explanation: "Examples are the acceptance tests of the generated code: a tool without one is generated untested. (Warning.)

```claw
tool delete_issue { ... }   // no example calls it
```

**Fix:** Add `example \"...\" { call delete_issue { ... } http ... expect { ... } }`.
",
    },
    CodeInfo {
        code: code::WRITABLE_MOUNT,
        title: "a mount is read-write",
        explanation: "With `rw`, the generated code may change or delete the mounted files. That is sometimes intended; it is always worth a second look in review. (Warning.)

```claw
mount \"/srv/notes\" at \"/notes\" rw
```

**Fix:** Use `ro` unless the integration must write there.
",
    },
    CodeInfo {
        code: code::UNMENTIONED_HOST,
        title: "an allowlisted host is never mentioned",
        explanation: "No `http` fixture calls this entry and the intent text does not mention its host. Unused allowlist entries widen what the code may reach for no reason. (Warning.)

```claw
network { allow \"api.github.com:443\" allow \"uploads.github.com:443\" }
```

**Fix:** Remove the entry, or add an example whose fixture uses it.
",
    },
    CodeInfo {
        code: code::WRITE_WITHOUT_APPROVAL,
        title: "a tool that sounds like a write has no approval setting",
        explanation: "The tool's name starts with a verb that usually changes something (create, delete, send, post, update, ...), but the tool says nothing about approval, so it runs without a human's confirmation. (Warning.)

```claw
tool delete_issue { description \"Delete an issue.\" ... }
```

**Fix:** Add `approval required`, or `approval none` to state that no approval is needed.
",
    },
    CodeInfo {
        code: code::PLAINTEXT_SECRET,
        title: "a secret travels unencrypted",
        explanation: "A `plaintext` line lets the egress proxy put this secret into plain-HTTP requests to the named host. Such a request is not encrypted: anyone on the network path (the Wi-Fi, a router, another machine on the LAN) can read the secret and reuse it. That is sometimes the only way to reach a device on a local network that cannot speak TLS; it is always worth a second look in review. Every plaintext host warns. (Warning.)

```claw
secret ha_token {
  inject header \"Authorization\" = \"Bearer {value}\" into \"homeassistant.local\"
  plaintext \"homeassistant.local\"
}
```

**Fix:** Enable TLS on the host, allowlist its TLS port, and remove the `plaintext` line; keep it only for a host on a network you trust.
",
    },
];
