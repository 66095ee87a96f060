//! Types shared by the config side and the live 3Commas side: decimals, the closed value sets,
//! the DCA ladder arithmetic and the strategy catalogue. No I/O here.

pub mod bot;
pub mod catalogue;
pub mod dca;
pub mod decimal;
pub mod enums;
pub mod grid;
