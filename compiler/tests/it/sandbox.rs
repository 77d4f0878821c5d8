//! `clawc sandbox exec` end to end: exit statuses and stdio pass-through.
