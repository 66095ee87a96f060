//! botform: 3Commas DCA bots as code.
//!
//! - `config`: the config language (TOML/YAML), decoding with spans, templates, validation rules.
//! - `model`: types shared by config and live state (decimals, enums, DCA math, strategy catalogue).
//! - `diagnostic`: problems in a user's files and their renderings (human, JSON, GitHub).
//! - `schema`: the JSON Schema of the config format.
//! - `files`: every file botform writes (atomic, never through a link) and bounded config reads.
//! - `edit`: changes to config files that keep comments and layout, and `botform fmt`'s layout.
//! - `engine`: plan, apply, import and their safety rails; `mcp`: the MCP server; `sandbox`: the
//!   local 3Commas; `threecommas`: the client; `report`: validate's result as data.
//! - `simulate`: backtests of a bot's settings over candles (pure); `timefmt`: ISO 8601 times.
//! - `cli`: the command line; each command is a function from settings to an exit status.

pub mod cli;
pub mod config;
pub mod connect;
pub mod diagnostic;
pub mod edit;
pub mod engine;
pub mod files;
pub mod mcp;
pub mod model;
pub mod optimize;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod simulate;
pub mod threecommas;
pub mod timefmt;
