//! The loader never panics, whatever the bytes.

use botform::config::{
    self,
    source::{SourceFile, Syntax},
};
use proptest::prelude::*;

fn check(text: String, syntax: Syntax) {
    let name = match syntax {
        Syntax::Toml => "p.toml",
        Syntax::Yaml => "p.yaml",
    };
    let checked = config::check_sources(vec![SourceFile::new(name.into(), syntax, text)]);
    // Every diagnostic must render and locate without panicking.
    let _ = botform::report::build(&checked);
    let mut out = Vec::new();
    botform::diagnostic::render_human(
        &mut out,
        &checked.diagnostics,
        &checked.config.sources,
        false,
    )
    .unwrap();
}

const SEED_TOML: &str = include_str!("../../examples/bots/shared.toml");
const SEED_YAML: &str = include_str!("../../examples/bots/tp-steps.yaml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(text.clone(), Syntax::Toml);
        check(text, Syntax::Yaml);
    }

    #[test]
    fn mutated_examples_never_panic(cut in 0usize..2000, insert in "[\\[\\]{}:=,\"'#\\- \\n\\té0-9a-z_]{0,8}") {
        for (seed, syntax) in [(SEED_TOML, Syntax::Toml), (SEED_YAML, Syntax::Yaml)] {
            let mut at = cut.min(seed.len());
            while !seed.is_char_boundary(at) { at -= 1; }
            let text = format!("{}{}{}", &seed[..at], insert, &seed[at..]);
            check(text, syntax);
        }
    }
}
