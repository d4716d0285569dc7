//! Localisation by substitution: which component is shared by the captures that show a symptom
//! and absent from the captures that could have shown it but did not.
//!
//! For one symptom, every testable capture is either *shown* or *clean*. A component `c` of a
//! kind the symptom allows scores `hits(c)` (shown captures through it) and `misses(c)` (clean
//! captures through it). The shown captures are covered greedily: the component with the most
//! uncovered hits, fewest misses, wins, as long as its misses are within the symptom's tolerance
//! (none for deterministic symptoms; a share for random ones such as intermittent contacts,
//! which do not show in every capture). Components that score exactly alike (they appear in the
//! same captures, e.g. a laptop's driver and its jack) are returned together as equivalents: the
//! caller splits them by the fault's signature or reports them as suspects.

use std::collections::BTreeMap;

/// One testable capture: the components on its path and whether it shows the symptom.
#[derive(Debug, Clone)]
pub struct Testable<'a> {
    pub components: Vec<&'a str>,
    pub shown: bool,
    /// Independent occurrences of the symptom in the capture (several gaps of a worn contact);
    /// 1 for a symptom that is simply there, 0 when clean.
    pub events: usize,
}

/// How much a component must show to become a candidate: `captures` shown captures through it,
/// or `events` occurrences in them all. One capture with one gap may be a glitch; two captures
/// with gaps, or one with many, are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub captures: usize,
    pub events: usize,
}

impl Evidence {
    /// A deterministic symptom: one shown capture is proof.
    pub const ONE: Evidence = Evidence { captures: 1, events: 1 };
}

/// A group of components that explains some shown captures.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Equivalent candidates (one unless the set cannot tell them apart), sorted.
    pub components: Vec<String>,
    /// Indices (into the testables) of the shown captures it explains.
    pub covers: Vec<usize>,
    pub hits: usize,
    pub misses: usize,
}

/// Covers the shown captures. `allowed` says whether a component may carry the symptom;
/// `tolerance` is the largest share of misses, `misses / (hits + misses)`, still accepted, and
/// `need` what makes a component a candidate at all.
pub fn localise(
    tests: &[Testable<'_>],
    allowed: impl Fn(&str) -> bool,
    tolerance: f64,
    need: Evidence,
) -> Vec<Explanation> {
    let mut out = Vec::new();
    let mut uncovered: Vec<bool> = tests.iter().map(|t| t.shown).collect();
    // Per component: (captures through it that are shown, clean).
    let mut stats: BTreeMap<&str, (Vec<usize>, usize)> = BTreeMap::new();
    for (i, t) in tests.iter().enumerate() {
        for &c in &t.components {
            if !allowed(c) {
                continue;
            }
            let e = stats.entry(c).or_default();
            if t.shown {
                e.0.push(i);
            } else {
                e.1 += 1;
            }
        }
    }
    loop {
        // Score: uncovered hits first, then fewer misses.
        let mut best: Option<(usize, usize, Vec<&str>, Vec<usize>)> = None;
        for (&c, (shown, misses)) in &stats {
            let hits: Vec<usize> = shown.iter().copied().filter(|&i| uncovered[i]).collect();
            if hits.is_empty() {
                continue;
            }
            let total = shown.len() + misses;
            let events: usize = shown.iter().map(|&i| tests[i].events).sum();
            let enough = shown.len() >= need.captures || events >= need.events;
            if !enough || (*misses as f64) > tolerance * total as f64 {
                continue;
            }
            let better = match &best {
                None => true,
                Some((h, m, ..)) => hits.len() > *h || (hits.len() == *h && misses < m),
            };
            let same = matches!(&best, Some((h, m, _, cov)) if hits.len() == *h && misses == m && *cov == hits);
            if same {
                if let Some(b) = best.as_mut() {
                    b.2.push(c);
                }
            } else if better {
                best = Some((hits.len(), *misses, vec![c], hits));
            }
        }
        let Some((_, misses, comps, covers)) = best else { break };
        for &i in &covers {
            uncovered[i] = false;
        }
        let hits = comps.first().and_then(|c| stats.get(c)).map_or(0, |s| s.0.len());
        out.push(Explanation { components: comps.iter().map(|c| c.to_string()).collect(), covers, hits, misses });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t<'a>(c: &[&'a str], shown: bool) -> Testable<'a> {
        Testable { components: c.to_vec(), shown, events: usize::from(shown) }
    }

    #[test]
    fn the_shared_component_is_found() {
        let tests = [
            t(&["hda", "front", "direct", "golden"], false),
            t(&["hda", "front", "direct", "dut"], true),
            t(&["hda", "rear", "direct", "golden"], false),
            t(&["hda", "rear", "direct", "dut"], true),
        ];
        let e = localise(&tests, |_| true, 0.0, Evidence::ONE);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].components, vec!["dut"]);
        assert_eq!((e[0].hits, e[0].misses), (2, 0));
    }

    #[test]
    fn inseparable_components_come_back_together_and_kinds_filter() {
        let tests = [
            t(&["laptop", "laptop-jack", "direct", "golden"], true),
            t(&["laptop", "laptop-jack", "direct", "cust"], true),
            t(&["usb", "bench-jack", "direct", "cust"], false),
            t(&["usb", "bench-jack", "cust-adapter", "golden"], false),
        ];
        let e = localise(&tests, |_| true, 0.0, Evidence::ONE);
        assert_eq!(e[0].components, vec!["laptop", "laptop-jack"]);
        let e = localise(&tests, |c| c != "laptop", 0.0, Evidence::ONE);
        assert_eq!(e[0].components, vec!["laptop-jack"]);
    }

    #[test]
    fn two_faults_are_covered_by_two_components() {
        let tests = [
            t(&["hda", "front", "golden"], true),
            t(&["hda", "front", "dut"], true),
            t(&["hda", "rear", "golden"], false),
            t(&["hda", "rear", "dut"], true),
        ];
        let e = localise(&tests, |c| c != "hda", 0.0, Evidence::ONE);
        let mut found: Vec<_> = e.iter().map(|x| x.components.clone()).collect();
        found.sort();
        assert_eq!(found, vec![vec!["dut".to_string()], vec!["front".to_string()]]);
        assert!(e.iter().all(|x| x.misses == 0));
    }

    #[test]
    fn random_symptoms_tolerate_clean_captures_on_the_faulty_path() {
        let tests = [
            t(&["hda", "front", "dut"], true),
            t(&["hda", "front", "dut"], false),
            t(&["hda", "rear", "dut"], true),
            t(&["hda", "rear", "golden"], false),
            t(&["hda", "front", "golden"], false),
        ];
        assert!(localise(&tests, |_| true, 0.0, Evidence::ONE).is_empty());
        let e = localise(&tests, |_| true, 0.5, Evidence::ONE);
        assert_eq!(e[0].components, vec!["dut"]);
        // One shown capture with one event is not enough where two captures or three events are
        // asked for; the same capture with three events is.
        let need = Evidence { captures: 2, events: 3 };
        assert!(localise(&tests[1..], |_| true, 0.5, need).is_empty());
        let mut many = tests[1..].to_vec();
        many[1].events = 3;
        assert_eq!(localise(&many, |_| true, 0.5, need)[0].components, vec!["dut", "rear"]);
        many[1].events = 2;
        assert!(localise(&many, |_| true, 0.5, need).is_empty());
    }
}
