//! "Did you mean …?" suggestions for misspelt names.

/// The candidate closest to `name`, if one is close enough to be a plausible typo.
pub(super) fn closest<'c, I>(name: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    // Up to a third of the characters may differ, at least one.
    let budget = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(name) {
                0
            } else {
                strsim::damerau_levenshtein(name, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= budget)
        .min()
        .map(|(_, candidate)| candidate)
}

/// A help line: the suggestion if there is one, otherwise `fallback`.
pub(super) fn help<'c, I>(name: &str, candidates: I, fallback: impl FnOnce() -> String) -> String
where
    I: IntoIterator<Item = &'c str>,
{
    closest(name, candidates).map_or_else(fallback, |close| format!("did you mean `{close}`?"))
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_typos_not_strangers() {
        assert_eq!(closest("Isue", ["Issue", "State"]), Some("Issue"));
        assert_eq!(closest("strng", ["string", "int"]), Some("string"));
        assert_eq!(closest("banana", ["Issue", "State"]), None);
    }
}
