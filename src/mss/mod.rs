//! MSSanté, the secure health messaging (`spec/mssante.md`): the PPS sent as a MIME message with an IHE XDM
//! package, acknowledgements (MDN, DSN) followed back.
//!
//! Pure parts (style habit 1): [`xdm`] builds and reads `IHE_XDM.ZIP` packages.

pub mod imap;
pub mod incoming;
pub mod message;
pub mod report;
pub mod sample;
pub mod smtp;
pub mod xdm;

pub use message::{BuiltMessage, MessageError, Outgoing, Policy, Recipients, build_message};
pub use xdm::{PackagedDocument, ReadLimits, Sender, XdmError, build_package, read_package};
