//! The report specs of the CAKE connector as data: the TOML format of one report (its endpoint,
//! parameters, response shape, and typed columns, nested as deep as Cake nests its elements) and
//! of the options table; reading them, checking every rule, and writing them back.
//!
//! **Invariant: the one definition of the spec format.** `cargo xtask codegen` turns checked
//! specs into the static catalog; `cake-verify` writes corrected specs with [`Spec::to_toml`];
//! both read and check through this crate, so a spec `verify` writes is one the generator takes.
//!
//! ```
//! use std::path::Path;
//!
//! use cake_spec::{parse_spec, Ty};
//!
//! let text = r#"
//! id = "offer-types"
//! name = "Offer Types"
//! description = "Returns the offer types."
//! verified = true
//! notes = """
//! From the get.asmx v1 WSDL."""
//! primary_key = ["offer_type_id"]
//!
//! [endpoint]
//! service = "get"
//! method = "OfferTypes"
//! version = 1
//! params = [
//!   { name = "api_key", kind = "api_key" },
//! ]
//!
//! [dates]
//! kind = "none"
//!
//! [response]
//! root = "offer_types_response"
//! collection = "offer_types"
//! row = "offer_type"
//! envelope = true
//! columns = [
//!   { name = "offer_type_id", path = "offer_type_id", type = "int32", nullable = false },
//!   { name = "offer_type_name", path = "offer_type_name", type = "utf8" },
//! ]
//! "#;
//! let spec = parse_spec(Path::new("offer-types.toml"), text).unwrap();
//! assert_eq!(Ty::parse(&spec.response.columns[0].ty), Ok(Ty::Int32));
//! // Written back in the layout of every spec file: read and written again, it is unchanged.
//! assert_eq!(spec.to_toml(&[]).trim(), text.trim());
//! ```

mod check;
mod error;
mod load;
mod model;
mod options;
mod write;

pub use check::{check_spec, element_paths, FILLED_BY_PLAN};
pub use error::SpecError;
pub use load::{load_specs, parse_spec, resolve};
pub use model::{
    ColumnSpec, ConversionValuesSpec, DatesSpec, EndpointSpec, PagingSpec, ParamSpec, ResponseSpec,
    Spec, Ty,
};
pub use options::{MenuDef, OptionDef, OptionsTable, PARSERS};
