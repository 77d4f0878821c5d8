//! The in-sandbox init: applies Landlock, starts the bridge, runs the program. Owner: native work.
