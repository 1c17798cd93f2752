//! The `.env` sanitizer judged by the real loaders: python-dotenv and django-environ read a
//! corpus of tricky files (and a few hundred generated ones) as an application would; no value
//! they read for a key that is not allowlisted, or that looks secret, may appear anywhere in the
//! restored main archive, and every file the sanitizer keeps values of is read by every loader
//! exactly as the sanitizer reads it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::{ExtractOptions, KeyAllowlist, read_env_strict};
use celeriac_testkit::python::Python;

use crate::fixture::{archive, collect_dir, restore};

/// Hand-written cases: each file's secrets are tokens starting with `LEAK`.
const CORPUS: &[&str] = &[
    "ALLOWED_HOSTS='example.com\nSECRET_KEY=LEAK-unterminated-1\nDB_PASSWORD=LEAK-unterminated-2\n",
    "DEBUG=False\rSECRET_KEY=LEAK-cr-only-1\rDB_PASSWORD=LEAK-cr-only-2\r",
    "DB_PASSWORD3='it\\'s #LEAK-escape-1'\n",
    "# old db password is LEAK-comment-1\nLOG_LEVEL=debug # LEAK-comment-2\n",
    "\u{feff}SECRET_KEY=LEAK-bom-1\nDEBUG=1\n",
    "SECRET_KEY=\"LEAK-multi-1\nLEAK-multi-2\"\nTZ=UTC\n",
    "export API_TOKEN=LEAK-export-1\r\nDEBUG=True\r\n",
    "DB_HOST=${DB_PASSWORD}\nDB_PASSWORD=LEAK-interp-1\n",
    "ALLOWED_HOSTS = LEAK-spaces-1\n",
    "TZ=\"UTC\\nSECRET_KEY=LEAK-escape-2\"\n",
    "DEBUG='False'\nSECRET_KEY='LEAK-plain-1'\nDB_PORT=5432\n",
    "  SECRET_KEY=LEAK-indent-1\n",
    "DEBUG=`echo LEAK-backtick-1`\n",
    "LOG_LEVEL=info\nSECRET_KEY=LEAK-dup-1\nSECRET_KEY=LEAK-dup-2\n",
];

/// A small deterministic generator (xorshift), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let index = usize::try_from(self.next() % len).unwrap_or(0);
        items[index]
    }
}

/// A generated env file from fragments the loaders disagree on (and some they agree on).
fn generated(rng: &mut Rng, case: usize) -> String {
    const KEYS: &[&str] = &[
        "SECRET_KEY",
        "DB_PASSWORD",
        "API_TOKEN",
        "DEBUG",
        "ALLOWED_HOSTS",
        "DB_HOST",
        "LOG_LEVEL",
        "TZ",
    ];
    const SHAPES: &[&str] = &[
        "{k}={v}",
        "{k}='{v}'",
        "{k}=\"{v}\"",
        "export {k}={v}",
        "{k} = {v}",
        "{k}={v} # note {v}x",
        "{k}='{v}",
        "{k}=\"{v}",
        "{k}=\"a\\n{v}\"",
        "{k}='it\\'s {v}'",
        "{k}=${OTHER}{v}",
        "{k}=\"${OTHER}{v}\"",
        "{k}=a\u{2028}SECRET_KEY={v}",
        "{k}=a\u{c}{v}",
        " {k}={v}",
        "{k}={v} ",
        "# {k}={v}",
        "",
    ];
    const PLAIN_SHAPES: &[&str] = &[
        "{k}={v}",
        "{k}='{v}'",
        "{k}=\"{v}\"",
        "export {k}={v}",
        "{k}='a b {v}'",
        "# {k}={v}",
        "",
    ];
    const ENDS: &[&str] = &["\n", "\n", "\n", "\r\n", "\r"];
    let mut text = String::new();
    if rng.next().is_multiple_of(20) {
        text.push('\u{feff}');
    }
    // A third of the files use only shapes every loader agrees on, so both outcomes (values
    // kept, placeholder) are exercised.
    let plain = rng.next().is_multiple_of(3);
    let (shapes, ends) = if plain {
        (PLAIN_SHAPES, &ENDS[..4])
    } else {
        (SHAPES, ENDS)
    };
    let end = rng.pick(ends);
    for line in 0..(2 + rng.next() % 6) {
        let key = rng.pick(KEYS);
        let value = format!("tok{case}x{line}q{}", rng.next() % 1000);
        let shape = rng.pick(shapes);
        text.push_str(&shape.replace("{k}", key).replace("{v}", &value));
        text.push_str(if rng.next().is_multiple_of(8) {
            rng.pick(ends)
        } else {
            end
        });
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_value_the_loaders_read_for_a_secret_key_reaches_the_main_archive() -> Result<()> {
    let mut cases: Vec<String> = CORPUS.iter().map(|s| (*s).to_owned()).collect();
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for case in 0..300 {
        cases.push(generated(&mut rng, case));
    }
    let tree = tempfile::tempdir()?;
    let loose = tempfile::tempdir()?;
    for (i, text) in cases.iter().enumerate() {
        std::fs::write(tree.path().join(format!(".env.case{i:03}")), text)?;
        std::fs::write(loose.path().join(format!("case{i:03}")), text)?;
    }
    let readings = loader_readings(loose.path()).await?;

    let c = collect_dir(tree.path())?;
    let out = tempfile::tempdir()?;
    let target = out.path().join("main");
    restore(
        &archive(&c, Bundle::Main)?,
        &target,
        &ExtractOptions::default(),
    )?;

    let allow = KeyAllowlist::default();
    let mut strict_files = 0;
    for (i, text) in cases.iter().enumerate() {
        let restored = std::fs::read_to_string(target.join(format!(".env.case{i:03}")))
            .with_context(|| format!("case {i}: no sanitized copy"))?;
        let loaders = readings
            .get(&format!("case{i:03}"))
            .with_context(|| format!("case {i}: no reading"))?;
        for (loader, values) in loaders {
            for (key, value) in values {
                let may_show = allow.allows(key) && !looks_secret_enough(value);
                ensure!(
                    may_show || value.len() < 6 || !restored.contains(value.as_str()),
                    "case {i} ({text:?}): {loader} reads {key}={value:?}, which is in the \
                     main archive's copy:\n{restored}"
                );
            }
        }
        for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if token.starts_with("LEAK") {
                ensure!(
                    !restored.contains(token),
                    "case {i}: {token} in the main archive:\n{restored}"
                );
            }
        }
        if let Ok(ours) = read_env_strict(text) {
            strict_files += 1;
            let ours: BTreeMap<String, String> = ours.into_iter().collect();
            for (loader, values) in loaders {
                ensure!(
                    &ours == values,
                    "case {i} ({text:?}) is read differently by {loader}: {values:?}, \
                     celeriac: {ours:?}"
                );
            }
        }
    }
    // The corpus exercises both kinds of file.
    ensure!(
        strict_files > 20 && strict_files < cases.len() - 20,
        "{strict_files}"
    );
    Ok(())
}

/// The sanitizer's own check is internal; for the oracle, a value counts as secret-looking when
/// it carries URL credentials or is long and mixed (a strict superset is not needed: allowlisted
/// keys in the corpus carry short tokens).
fn looks_secret_enough(value: &str) -> bool {
    value.contains("://") && value.contains('@')
}

type Readings = HashMap<String, BTreeMap<String, BTreeMap<String, String>>>;

async fn loader_readings(dir: &Path) -> Result<Readings> {
    let python = Python::find();
    python.require("dotenv");
    python.require("environ");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env_loaders.py");
    let out = python.script(script).arg(dir).success().await;
    Ok(serde_json::from_str(&out.stdout)?)
}
