//! A small corpus-driven fuzzer on proptest (the toolchain is stable, so no cargo-fuzz), shared
//! by the fuzz targets of every crate (`tests/fuzz/main.rs`, which includes this file).
//!
//! A target has a corpus, `tests/fuzz-corpus/<target>/` (one seed input per file), and a
//! regressions file beside it, `tests/fuzz-corpus/<target>.proptest-regressions`. A run
//! 1. replays every seed as it is;
//! 2. replays the failures proptest saved in the regressions file;
//! 3. runs a fixed number of generated cases: seeds changed by a few random mutations (bit
//!    flips, inserted dictionary tokens, cut, repeated and spliced ranges), and some inputs
//!    made from nothing. The generator is seeded, so CI runs the same cases every time.
//!
//! `CAMPUS_FUZZ_CASES=<n>` runs more cases and `CAMPUS_FUZZ_SEED=<u64>` explores other ones;
//! a failure is shrunk and saved to the regressions file, to be committed with the fix.

#![allow(dead_code)]

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner};

/// One fuzz target of a crate.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// The crate's directory (`env!("CARGO_MANIFEST_DIR")`).
    pub(crate) crate_dir: &'static str,
    /// Generated cases per run (CI default).
    pub(crate) cases: u32,
}

impl Target {
    fn corpus_dir(&self) -> PathBuf {
        Path::new(self.crate_dir).join("tests/fuzz-corpus").join(self.name)
    }

    /// Every seed of the corpus, in file-name order.
    pub(crate) fn seeds(&self) -> Vec<Vec<u8>> {
        let dir = self.corpus_dir();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        files.iter().map(|path| std::fs::read(path).expect("read a seed")).collect()
    }

    /// Replays `seeds`, then runs the generated cases of `strategy` through `check`.
    pub(crate) fn run<S>(
        &self,
        seeds: Vec<S::Value>,
        strategy: S,
        check: impl Fn(S::Value) -> Result<(), TestCaseError>,
    ) where
        S: Strategy,
        S::Value: Debug + Clone,
    {
        for (i, seed) in seeds.into_iter().enumerate() {
            if let Err(e) = check(seed.clone()) {
                panic!("{}: corpus seed #{i} fails: {e}\n{seed:?}", self.name);
            }
        }
        let regressions = format!("{}/tests/fuzz-corpus/{}.proptest-regressions", self.crate_dir, self.name);
        let cases = env_or("CAMPUS_FUZZ_CASES", u64::from(self.cases)) as u32;
        let config = Config {
            cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
                regressions.into_boxed_str(),
            )))),
            max_shrink_iters: 512,
            ..Config::default()
        };
        let seed = env_or("CAMPUS_FUZZ_SEED", 0x00ca_b005);
        let mut rng_seed = [0u8; 32];
        rng_seed[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &rng_seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        if let Err(e) = runner.run(&strategy, check) {
            panic!("{}: {e}", self.name);
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One change to an input.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    /// A token of the target's dictionary, inserted.
    Insert(Index, Index),
    /// Random bytes, inserted.
    InsertBytes(Index, Vec<u8>),
    Delete(Index, usize),
    /// A range of the input, repeated in place.
    Repeat(Index, usize, u8),
    Truncate(Index),
    /// A range of another seed, inserted.
    Splice(Index, Index, Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte(at, byte)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Insert(at, token)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::InsertBytes(at, bytes)),
        1 => (any::<Index>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete(at, len)),
        1 => (any::<Index>(), 1usize..16, 1u8..8).prop_map(|(at, len, n)| Mutation::Repeat(at, len, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(seed, from, at, len)| Mutation::Splice(seed, from, at, len)),
    ]
}

impl Mutation {
    fn apply(&self, input: &mut Vec<u8>, seeds: &[Vec<u8>], dictionary: &[&[u8]]) {
        let position = |at: &Index, input: &Vec<u8>| at.index(input.len() + 1);
        match self {
            Mutation::FlipBit(at, bit) if !input.is_empty() => {
                let i = at.index(input.len());
                input[i] ^= 1 << bit;
            }
            Mutation::SetByte(at, byte) if !input.is_empty() => {
                let i = at.index(input.len());
                input[i] = *byte;
            }
            Mutation::Insert(at, token) if !dictionary.is_empty() => {
                let i = position(at, input);
                let token = token.get(dictionary);
                input.splice(i..i, token.iter().copied());
            }
            Mutation::InsertBytes(at, bytes) => {
                let i = position(at, input);
                input.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(at, len) => {
                let i = position(at, input);
                let end = (i + len).min(input.len());
                input.drain(i..end);
            }
            Mutation::Repeat(at, len, times) => {
                let i = position(at, input);
                let end = (i + len).min(input.len());
                let range = input[i..end].to_vec();
                for _ in 0..*times {
                    input.splice(end..end, range.iter().copied());
                }
            }
            Mutation::Truncate(at) => {
                let i = position(at, input);
                input.truncate(i);
            }
            Mutation::Splice(seed, from, at, len) => {
                let other = seed.get(seeds);
                let start = from.index(other.len() + 1);
                let end = (start + len).min(other.len());
                let i = position(at, input);
                input.splice(i..i, other[start..end].iter().copied());
            }
            _ => {}
        }
    }
}

/// Inputs for a target: mostly seeds with 1 to 8 mutations, sometimes random bytes.
pub(crate) fn inputs(
    seeds: Vec<Vec<u8>>,
    dictionary: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "a target needs at least one seed");
    let mutated =
        (any::<Index>(), prop::collection::vec(mutation(), 1..8)).prop_map(move |(seed, changes)| {
            let mut input = seed.get(&seeds).clone();
            for change in &changes {
                change.apply(&mut input, &seeds, dictionary);
            }
            input
        });
    prop_oneof![
        6 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}
