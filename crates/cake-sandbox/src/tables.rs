//! The kinds of things an id/name leaf can refer to, how element names map to them, and the small
//! fixed lists of the lookup kinds (account statuses, price formats, currencies, ...).

/// What an id/name leaf refers to. The first group are the entity pools of the synthetic world;
/// the rest are fixed lookup lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Affiliate,
    Advertiser,
    Offer,
    OfferContract,
    Campaign,
    Creative,
    Buyer,
    BuyerContract,
    Contact,
    AccountStatus,
    PriceFormat,
    Currency,
    BillingCycle,
    CapInterval,
    CapType,
    OfferType,
    OfferStatus,
    PaymentSetting,
    PaymentType,
    Language,
    Vertical,
    VerticalCategory,
    Tag,
    AffiliateTier,
    Disposition,
    DispositionType,
    MediaType,
    CampaignType,
    Country,
    Region,
    Isp,
    Device,
    Channel,
    Event,
    Browser,
    OperatingSystem,
    Version,
    HashType,
    InactiveReason,
    SessionRegenerationType,
    DisplayLinkType,
    Storefront,
    PayoutRule,
    Role,
}

impl Kind {
    /// True for the kinds backed by the world's entity pools.
    pub(crate) fn is_entity(self) -> bool {
        matches!(
            self,
            Kind::Affiliate
                | Kind::Advertiser
                | Kind::Offer
                | Kind::OfferContract
                | Kind::Campaign
                | Kind::Creative
                | Kind::Buyer
                | Kind::BuyerContract
                | Kind::Contact
        )
    }
}

/// Element-name stems (`source_affiliate` in `source_affiliate_id`) and what they refer to.
/// `primary` stems refer to the row's own entity of that kind; the others to a second one
/// (`referrer_affiliate`, `original_campaign`).
pub(crate) const STEMS: &[(&str, Kind, bool)] = &[
    ("affiliate", Kind::Affiliate, true),
    ("source_affiliate", Kind::Affiliate, true),
    ("publisher", Kind::Affiliate, true),
    ("referrer_affiliate", Kind::Affiliate, false),
    ("company", Kind::Affiliate, false),
    ("advertiser", Kind::Advertiser, true),
    ("brand_advertiser", Kind::Advertiser, true),
    ("offer", Kind::Offer, true),
    ("site_offer", Kind::Offer, true),
    ("offer_contract", Kind::OfferContract, true),
    ("site_offer_contract", Kind::OfferContract, true),
    ("default_offer_contract", Kind::OfferContract, true),
    ("campaign", Kind::Campaign, true),
    ("original_campaign", Kind::Campaign, false),
    ("creative", Kind::Creative, true),
    ("buyer", Kind::Buyer, true),
    ("buyer_contract", Kind::BuyerContract, true),
    ("contact", Kind::Contact, true),
    ("account_manager", Kind::Contact, true),
    ("affiliate_manager", Kind::Contact, true),
    ("source_affiliate_manager", Kind::Contact, true),
    ("advertiser_manager", Kind::Contact, false),
    ("brand_advertiser_manager", Kind::Contact, false),
    ("account_status", Kind::AccountStatus, true),
    ("price_format", Kind::PriceFormat, true),
    ("currency", Kind::Currency, true),
    ("billing_cycle", Kind::BillingCycle, true),
    ("cap_interval", Kind::CapInterval, true),
    ("cap_type", Kind::CapType, true),
    ("offer_type", Kind::OfferType, true),
    ("offer_status", Kind::OfferStatus, true),
    ("payment_setting", Kind::PaymentSetting, true),
    ("payment_type", Kind::PaymentType, true),
    ("language", Kind::Language, true),
    ("vertical", Kind::Vertical, true),
    ("vertical_category", Kind::VerticalCategory, true),
    ("category", Kind::VerticalCategory, true),
    ("tag", Kind::Tag, true),
    ("affiliate_tier", Kind::AffiliateTier, true),
    ("disposition", Kind::Disposition, true),
    ("disposition_type", Kind::DispositionType, true),
    ("media_type", Kind::MediaType, true),
    ("campaign_type", Kind::CampaignType, true),
    ("country", Kind::Country, true),
    ("region", Kind::Region, true),
    ("isp", Kind::Isp, true),
    ("device", Kind::Device, true),
    ("channel", Kind::Channel, true),
    ("event", Kind::Event, true),
    ("browser", Kind::Browser, true),
    ("operating_system", Kind::OperatingSystem, true),
    ("version", Kind::Version, true),
    ("hash_type", Kind::HashType, true),
    ("inactive_reason", Kind::InactiveReason, true),
    (
        "session_regeneration_type",
        Kind::SessionRegenerationType,
        true,
    ),
    ("display_link_type", Kind::DisplayLinkType, true),
    ("storefront", Kind::Storefront, true),
    ("payout_rule", Kind::PayoutRule, true),
    ("role", Kind::Role, true),
];

/// Looks a stem up.
pub(crate) fn stem(s: &str) -> Option<(Kind, bool)> {
    STEMS
        .iter()
        .find(|(name, _, _)| *name == s)
        .map(|&(_, k, p)| (k, p))
}

/// Which part of an entry a leaf shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Name,
    /// `country_code`, `region_code`.
    Code,
    /// `currency_symbol`.
    Symbol,
    /// `currency_abbr`, `language_abbr`.
    Abbr,
}

/// Splits `source_affiliate_id` into the stem and the field.
pub(crate) fn split_leaf(leaf: &str) -> Option<(&str, Field)> {
    for (suffix, field) in [
        ("_id", Field::Id),
        ("_name", Field::Name),
        ("_code", Field::Code),
        ("_symbol", Field::Symbol),
        ("_abbr", Field::Abbr),
    ] {
        if let Some(stem) = leaf.strip_suffix(suffix) {
            return Some((stem, field));
        }
    }
    None
}

/// One entry of a lookup list. `code` is the currency symbol, the language, country or region
/// code; `abbr` the currency abbreviation; `parent` the category of a vertical or the type of
/// a disposition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub id: i32,
    pub name: &'static str,
    pub code: &'static str,
    pub abbr: &'static str,
    pub parent: i32,
}

const fn e(id: i32, name: &'static str) -> Entry {
    Entry {
        id,
        name,
        code: "",
        abbr: "",
        parent: 0,
    }
}

const fn ec(id: i32, name: &'static str, code: &'static str) -> Entry {
    Entry {
        id,
        name,
        code,
        abbr: code,
        parent: 0,
    }
}

const fn ep(id: i32, name: &'static str, parent: i32) -> Entry {
    Entry {
        id,
        name,
        code: "",
        abbr: "",
        parent,
    }
}

const ACCOUNT_STATUSES: &[Entry] = &[e(1, "Active"), e(2, "Inactive"), e(3, "Pending")];
const PRICE_FORMATS: &[Entry] = &[
    e(1, "CPA"),
    e(2, "CPC"),
    e(3, "CPM"),
    e(4, "Fixed"),
    e(5, "RevShare"),
];
const CURRENCIES: &[Entry] = &[
    Entry {
        id: 1,
        name: "US Dollar",
        code: "$",
        abbr: "USD",
        parent: 0,
    },
    Entry {
        id: 2,
        name: "Euro",
        code: "€",
        abbr: "EUR",
        parent: 0,
    },
];
const BILLING_CYCLES: &[Entry] = &[e(1, "Weekly"), e(2, "Bi-Monthly"), e(3, "Monthly")];
const CAP_INTERVALS: &[Entry] = &[
    e(1, "Daily"),
    e(2, "Weekly"),
    e(3, "Monthly"),
    e(4, "Custom"),
];
const CAP_TYPES: &[Entry] = &[e(1, "Click"), e(2, "Conversion")];
const OFFER_TYPES: &[Entry] = &[e(1, "Hosted"), e(2, "Host-n-Post"), e(3, "3rd Party")];
const OFFER_STATUSES: &[Entry] = &[
    e(1, "Public"),
    e(2, "Private"),
    e(3, "Apply To Run"),
    e(4, "Inactive"),
];
const PAYMENT_SETTINGS: &[Entry] = &[
    e(1, "Use system default"),
    e(2, "Pay affiliate in offer's currency"),
    e(3, "Pay affiliate in affiliate's currency"),
];
const PAYMENT_TYPES: &[Entry] = &[
    e(1, "Check"),
    e(2, "Wire Transfer"),
    e(3, "Direct Deposit"),
    e(4, "PayPal"),
];
const LANGUAGES: &[Entry] = &[
    ec(1, "English", "en"),
    ec(2, "Deutsch", "de"),
    ec(3, "Français", "fr"),
    ec(4, "Español", "es"),
];
const VERTICALS: &[Entry] = &[
    ep(1, "Finance & Insurance", 1),
    ep(2, "Credit Cards", 1),
    ep(3, "Dating", 2),
    ep(4, "Health & Beauty", 2),
    ep(5, "Mobile <Apps>", 3),
    ep(6, "Sweepstakes", 3),
];
const VERTICAL_CATEGORIES: &[Entry] = &[
    e(1, "Financial"),
    e(2, "Lifestyle"),
    e(3, "Entertainment & Games"),
];
const TAGS: &[Entry] = &[
    e(1, "Top Tier"),
    e(2, "Email & SMS"),
    e(3, "Süddeutschland"),
    e(4, "<Test>"),
    e(5, "Mobile"),
];
const AFFILIATE_TIERS: &[Entry] = &[e(1, "Gold Tier"), e(2, "Silver Tier"), e(5, "bronze tier")];
const DISPOSITIONS: &[Entry] = &[
    ep(1, "Approved", 3),
    ep(2, "Rejected", 2),
    ep(7, "Sale Confirmed", 3),
    ep(9, "Qualified Lead", 3),
    ep(12, "Thrown Out", 2),
    ep(14, "Duplicate & Fraud", 2),
    ep(20, "Pending Review", 1),
    ep(30, "Returned <Chargeback>", 4),
];
const DISPOSITION_TYPES: &[Entry] = &[
    e(1, "Pending"),
    e(2, "Rejected"),
    e(3, "Approved"),
    e(4, "Returned"),
];
const MEDIA_TYPES: &[Entry] = &[
    e(1, "Email"),
    e(2, "Display"),
    e(3, "Search"),
    e(4, "Social"),
    e(5, "Mobile"),
];
const CAMPAIGN_TYPES: &[Entry] = &[e(1, "Standard"), e(2, "Upsell")];
const COUNTRIES: &[Entry] = &[
    ec(0, "United States", "US"),
    ec(0, "Germany", "DE"),
    ec(0, "Switzerland", "CH"),
    ec(0, "Côte d'Ivoire", "CI"),
    ec(0, "United Kingdom", "GB"),
];
const REGIONS: &[Entry] = &[
    ec(0, "California", "CA"),
    ec(0, "New York", "NY"),
    ec(0, "Bayern", "BY"),
    ec(0, "Zürich", "ZH"),
];
const ISPS: &[Entry] = &[
    e(11, "Comcast Cable"),
    e(12, "Deutsche Telekom AG"),
    e(13, "Vodafone & Partners"),
    e(14, "Swisscom"),
];
const DEVICES: &[Entry] = &[e(1, "Desktop"), e(2, "Mobile"), e(3, "Tablet")];
const CHANNELS: &[Entry] = &[e(1, "Email"), e(2, "Social"), e(3, "Native")];
const EVENTS: &[Entry] = &[
    e(1, "Conversion"),
    e(2, "Registration"),
    e(3, "Upsell"),
    e(4, "App Install"),
];
const BROWSERS: &[Entry] = &[
    e(1, "Chrome"),
    e(2, "Firefox"),
    e(3, "Safari"),
    e(4, "Edge"),
];
const OPERATING_SYSTEMS: &[Entry] = &[e(1, "Windows"), e(2, "macOS"), e(3, "Android"), e(4, "iOS")];
const VERSIONS: &[Entry] = &[
    e(10, "10"),
    e(11, "11"),
    e(14, "14.4"),
    e(17, "17"),
    e(120, "120"),
    e(121, "121.0"),
];
const HASH_TYPES: &[Entry] = &[e(1, "None"), e(2, "MD5"), e(3, "SHA-1")];
const INACTIVE_REASONS: &[Entry] = &[
    e(1, "Fraud"),
    e(2, "Low Quality Traffic"),
    e(3, "Requested by Affiliate"),
];
const SESSION_REGENERATION_TYPES: &[Entry] = &[e(1, "None"), e(2, "Click"), e(3, "Conversion")];
const DISPLAY_LINK_TYPES: &[Entry] = &[e(1, "Standard"), e(2, "Direct Link")];
const STOREFRONTS: &[Entry] = &[e(1, "Main Store"), e(2, "Café Outlet")];
const PAYOUT_RULES: &[Entry] = &[e(1, "Default"), e(2, "Tiered Payout")];
const ROLES: &[Entry] = &[
    e(1, "Admin"),
    e(4, "Account Manager"),
    e(6, "Affiliate"),
    e(8, "Advertiser"),
];

/// The fixed list of a lookup kind (empty for entity kinds).
pub(crate) fn lookup(kind: Kind) -> &'static [Entry] {
    match kind {
        Kind::AccountStatus => ACCOUNT_STATUSES,
        Kind::PriceFormat => PRICE_FORMATS,
        Kind::Currency => CURRENCIES,
        Kind::BillingCycle => BILLING_CYCLES,
        Kind::CapInterval => CAP_INTERVALS,
        Kind::CapType => CAP_TYPES,
        Kind::OfferType => OFFER_TYPES,
        Kind::OfferStatus => OFFER_STATUSES,
        Kind::PaymentSetting => PAYMENT_SETTINGS,
        Kind::PaymentType => PAYMENT_TYPES,
        Kind::Language => LANGUAGES,
        Kind::Vertical => VERTICALS,
        Kind::VerticalCategory => VERTICAL_CATEGORIES,
        Kind::Tag => TAGS,
        Kind::AffiliateTier => AFFILIATE_TIERS,
        Kind::Disposition => DISPOSITIONS,
        Kind::DispositionType => DISPOSITION_TYPES,
        Kind::MediaType => MEDIA_TYPES,
        Kind::CampaignType => CAMPAIGN_TYPES,
        Kind::Country => COUNTRIES,
        Kind::Region => REGIONS,
        Kind::Isp => ISPS,
        Kind::Device => DEVICES,
        Kind::Channel => CHANNELS,
        Kind::Event => EVENTS,
        Kind::Browser => BROWSERS,
        Kind::OperatingSystem => OPERATING_SYSTEMS,
        Kind::Version => VERSIONS,
        Kind::HashType => HASH_TYPES,
        Kind::InactiveReason => INACTIVE_REASONS,
        Kind::SessionRegenerationType => SESSION_REGENERATION_TYPES,
        Kind::DisplayLinkType => DISPLAY_LINK_TYPES,
        Kind::Storefront => STOREFRONTS,
        Kind::PayoutRule => PAYOUT_RULES,
        Kind::Role => ROLES,
        Kind::Affiliate
        | Kind::Advertiser
        | Kind::Offer
        | Kind::OfferContract
        | Kind::Campaign
        | Kind::Creative
        | Kind::Buyer
        | Kind::BuyerContract
        | Kind::Contact => &[],
    }
}
