//! The synthetic world: entity pools (advertisers, offers and their contracts and creatives,
//! affiliates, campaigns, buyers, contacts) derived from the seed, with ids that join across
//! reports. Ids are stable; names and attributes depend on the seed.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};

use crate::hash::{below, fnv, h3};
use crate::tables::{lookup, Entry, Kind};

pub(crate) const ADVERTISERS: usize = 6;
pub(crate) const OFFERS: usize = 12;
pub(crate) const AFFILIATES: usize = 10;
pub(crate) const CAMPAIGNS: usize = 20;
pub(crate) const BUYERS: usize = 4;
pub(crate) const CONTACTS: usize = 8;

const STEMS: &[&str] = &[
    "Müller",
    "Nordlicht",
    "Bluebird",
    "Zephyr",
    "Kranich",
    "Atlas",
    "Sonnenblume",
    "Orca",
    "Lumen",
    "Fjord",
    "Café Noir",
    "Pixel",
];
/// Cycled by index, so every pool of four or more holds `&`, `<`, `€` and `ü` whatever the seed.
const SUFFIXES: &[&str] = &[
    " & Söhne",
    " Media <EU>",
    " Ads €",
    " Grün & Partner",
    " Networks",
    " Digital",
    " Labs",
    " Group",
];
const PRODUCTS: &[&str] = &[
    "Credit Card",
    "Auto Insurance",
    "Dating Plus",
    "Sweepstakes",
    "Mobile Game",
    "Solar Leads",
    "Diät Plan",
    "Crypto <Beta>",
    "Travel & Flights",
    "Streaming €4.99",
];
const FIRST_NAMES: &[&str] = &[
    "Jürgen", "Zoë", "Marco", "Ana", "Liam", "Søren", "Chloé", "Dmitri", "Aiko", "Fatima",
];
const LAST_NAMES: &[&str] = &[
    "Schäfer", "O'Brien", "Neumann", "García", "Smith", "Łukasz", "Dubois", "Tanaka",
];

#[derive(Debug)]
pub(crate) struct Advertiser {
    pub id: i32,
    pub name: String,
    pub manager: u32,
    pub created: NaiveDateTime,
}

#[derive(Debug)]
pub(crate) struct Offer {
    pub id: i32,
    pub name: String,
    pub advertiser: u32,
    pub contracts: Vec<u32>,
    pub creatives: Vec<u32>,
    pub created: NaiveDateTime,
}

#[derive(Debug)]
pub(crate) struct OfferContract {
    pub id: i32,
    pub name: String,
    /// Index into the price format list.
    pub price_format: u32,
}

#[derive(Debug)]
pub(crate) struct Creative {
    pub id: i32,
    pub name: String,
}

#[derive(Debug)]
pub(crate) struct Affiliate {
    pub id: i32,
    pub name: String,
    pub manager: u32,
    pub referrer: Option<u32>,
    pub created: NaiveDateTime,
}

#[derive(Debug)]
pub(crate) struct Campaign {
    pub id: i32,
    pub name: String,
    pub affiliate: u32,
    pub offer: u32,
    pub contract: u32,
    pub created: NaiveDateTime,
}

#[derive(Debug)]
pub(crate) struct Buyer {
    pub id: i32,
    pub name: String,
    pub manager: u32,
    pub contracts: Vec<u32>,
    pub created: NaiveDateTime,
}

#[derive(Debug)]
pub(crate) struct BuyerContract {
    pub id: i32,
    pub name: String,
}

#[derive(Debug)]
pub(crate) struct Contact {
    pub id: i32,
    pub first: &'static str,
    pub last: &'static str,
    pub email: String,
}

/// Every entity of the sandbox, for one seed and one "today".
#[derive(Debug)]
pub(crate) struct World {
    pub seed: u64,
    pub today: NaiveDate,
    pub advertisers: Vec<Advertiser>,
    pub offers: Vec<Offer>,
    pub contracts: Vec<OfferContract>,
    pub creatives: Vec<Creative>,
    pub affiliates: Vec<Affiliate>,
    pub campaigns: Vec<Campaign>,
    pub buyers: Vec<Buyer>,
    pub buyer_contracts: Vec<BuyerContract>,
    pub contacts: Vec<Contact>,
}

fn company(seed: u64, salt: &str, i: usize) -> String {
    let base = below(h3(seed, fnv(salt), 0), STEMS.len());
    let stem = STEMS[(base + i) % STEMS.len()];
    format!("{stem}{}", SUFFIXES[i % SUFFIXES.len()])
}

impl World {
    pub(crate) fn new(seed: u64, today: NaiveDate) -> World {
        let created = |salt: &str, i: usize| -> NaiveDateTime {
            let h = h3(seed, fnv(salt), i as u64);
            let days = 60 + below(h, 900) as u64;
            let day = today.checked_sub_days(Days::new(days)).unwrap_or(today);
            let secs = below(h >> 20, 86_400) as u32;
            day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default())
        };
        let contacts: Vec<Contact> = (0..CONTACTS)
            .map(|i| {
                let h = h3(seed, fnv("contact"), i as u64);
                let first = FIRST_NAMES[(below(h, FIRST_NAMES.len()) + i) % FIRST_NAMES.len()];
                let last = LAST_NAMES[below(h >> 16, LAST_NAMES.len())];
                Contact {
                    id: 101 + i as i32,
                    first,
                    last,
                    email: format!("contact{}@example.com", 101 + i),
                }
            })
            .collect();
        let advertisers: Vec<Advertiser> = (0..ADVERTISERS)
            .map(|i| Advertiser {
                id: 1001 + i as i32,
                name: company(seed, "advertiser", i),
                manager: below(h3(seed, fnv("adv-manager"), i as u64), CONTACTS) as u32,
                created: created("advertiser", i),
            })
            .collect();
        let mut offers = Vec::with_capacity(OFFERS);
        let mut contracts = Vec::new();
        let mut creatives = Vec::new();
        for i in 0..OFFERS {
            let h = h3(seed, fnv("offer"), i as u64);
            let product = PRODUCTS[(below(h, PRODUCTS.len()) + i) % PRODUCTS.len()];
            let advertiser = (i % ADVERTISERS) as u32;
            let name = format!(
                "{product} – {}",
                advertisers[advertiser as usize]
                    .name
                    .split(' ')
                    .next()
                    .unwrap_or("Offer")
            );
            let n_contracts = 1 + below(h >> 8, 2);
            let mut offer_contracts = Vec::new();
            for c in 0..n_contracts {
                let id = 4001 + contracts.len() as i32;
                offer_contracts.push(contracts.len() as u32);
                let price_format = below(h3(seed, fnv("contract-pf"), id as u64), 5) as u32;
                contracts.push(OfferContract {
                    id,
                    name: if c == 0 {
                        "Base".to_string()
                    } else {
                        format!("Tier {} & Bonus", c + 1)
                    },
                    price_format,
                });
            }
            let mut offer_creatives = Vec::new();
            for c in 0..2 {
                let id = 6001 + creatives.len() as i32;
                offer_creatives.push(creatives.len() as u32);
                let size = ["300x250", "728x90", "160x600"][below(h >> (20 + c), 3)];
                creatives.push(Creative {
                    id,
                    name: format!("{product} {size} {}", ["A", "B – Grün"][c]),
                });
            }
            offers.push(Offer {
                id: 3001 + i as i32,
                name,
                advertiser,
                contracts: offer_contracts,
                creatives: offer_creatives,
                created: created("offer", i),
            });
        }
        let affiliates: Vec<Affiliate> = (0..AFFILIATES)
            .map(|i| {
                let h = h3(seed, fnv("affiliate"), i as u64);
                let mut name = company(seed, "affiliate", i + 3);
                if i == 7 {
                    // Real names sometimes start with a space; nothing must trim it.
                    name.insert(0, ' ');
                }
                Affiliate {
                    id: 2001 + i as i32,
                    name,
                    manager: below(h, CONTACTS) as u32,
                    referrer: (i % 3 == 2)
                        .then(|| ((i + 1 + below(h >> 8, 3)) % AFFILIATES) as u32),
                    created: created("affiliate", i),
                }
            })
            .collect();
        let campaigns: Vec<Campaign> = (0..CAMPAIGNS)
            .map(|i| {
                let h = h3(seed, fnv("campaign"), i as u64);
                let affiliate = ((i * 3 + below(h, 2)) % AFFILIATES) as u32;
                let offer = (i % OFFERS) as u32;
                let offer_contracts = &offers[offer as usize].contracts;
                let contract = offer_contracts[below(h >> 8, offer_contracts.len())];
                Campaign {
                    id: 5001 + i as i32,
                    name: format!(
                        "{} / {}",
                        offers[offer as usize].name,
                        affiliates[affiliate as usize].name.trim()
                    ),
                    affiliate,
                    offer,
                    contract,
                    created: created("campaign", i),
                }
            })
            .collect();
        let mut buyers = Vec::new();
        let mut buyer_contracts = Vec::new();
        for i in 0..BUYERS {
            let mut ids = Vec::new();
            for c in 0..2 {
                let id = 7501 + buyer_contracts.len() as i32;
                ids.push(buyer_contracts.len() as u32);
                buyer_contracts.push(BuyerContract {
                    id,
                    name: format!("Contract {} {}", c + 1, ["Standard", "Premium €"][c]),
                });
            }
            buyers.push(Buyer {
                id: 7001 + i as i32,
                name: company(seed, "buyer", i + 1),
                manager: below(h3(seed, fnv("buyer-manager"), i as u64), CONTACTS) as u32,
                contracts: ids,
                created: created("buyer", i),
            });
        }
        World {
            seed,
            today,
            advertisers,
            offers,
            contracts,
            creatives,
            affiliates,
            campaigns,
            buyers,
            buyer_contracts,
            contacts,
        }
    }

    /// Number of entries of a kind.
    pub(crate) fn len(&self, kind: Kind) -> usize {
        match kind {
            Kind::Affiliate => self.affiliates.len(),
            Kind::Advertiser => self.advertisers.len(),
            Kind::Offer => self.offers.len(),
            Kind::OfferContract => self.contracts.len(),
            Kind::Campaign => self.campaigns.len(),
            Kind::Creative => self.creatives.len(),
            Kind::Buyer => self.buyers.len(),
            Kind::BuyerContract => self.buyer_contracts.len(),
            Kind::Contact => self.contacts.len(),
            other => lookup(other).len(),
        }
    }

    /// The id of entry `i` of a kind.
    pub(crate) fn id(&self, kind: Kind, i: u32) -> i32 {
        let i = i as usize;
        let get = |v: Option<i32>| v.unwrap_or(0);
        match kind {
            Kind::Affiliate => get(self.affiliates.get(i).map(|e| e.id)),
            Kind::Advertiser => get(self.advertisers.get(i).map(|e| e.id)),
            Kind::Offer => get(self.offers.get(i).map(|e| e.id)),
            Kind::OfferContract => get(self.contracts.get(i).map(|e| e.id)),
            Kind::Campaign => get(self.campaigns.get(i).map(|e| e.id)),
            Kind::Creative => get(self.creatives.get(i).map(|e| e.id)),
            Kind::Buyer => get(self.buyers.get(i).map(|e| e.id)),
            Kind::BuyerContract => get(self.buyer_contracts.get(i).map(|e| e.id)),
            Kind::Contact => get(self.contacts.get(i).map(|e| e.id)),
            other => get(lookup(other).get(i).map(|e| e.id)),
        }
    }

    /// The entry of a lookup kind.
    pub(crate) fn entry(&self, kind: Kind, i: u32) -> Option<&'static Entry> {
        lookup(kind).get(i as usize)
    }

    /// The name of entry `i` of a kind.
    pub(crate) fn name(&self, kind: Kind, i: u32) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        let i = i as usize;
        fn s(v: Option<&String>) -> Cow<'_, str> {
            Cow::Borrowed(v.map_or("", |s| s.as_str()))
        }
        match kind {
            Kind::Affiliate => s(self.affiliates.get(i).map(|e| &e.name)),
            Kind::Advertiser => s(self.advertisers.get(i).map(|e| &e.name)),
            Kind::Offer => s(self.offers.get(i).map(|e| &e.name)),
            Kind::OfferContract => s(self.contracts.get(i).map(|e| &e.name)),
            Kind::Campaign => s(self.campaigns.get(i).map(|e| &e.name)),
            Kind::Creative => s(self.creatives.get(i).map(|e| &e.name)),
            Kind::Buyer => s(self.buyers.get(i).map(|e| &e.name)),
            Kind::BuyerContract => s(self.buyer_contracts.get(i).map(|e| &e.name)),
            Kind::Contact => self.contacts.get(i).map_or(Cow::Borrowed(""), |c| {
                Cow::Owned(format!("{} {}", c.first, c.last))
            }),
            other => Cow::Borrowed(lookup(other).get(i).map_or("", |e| e.name)),
        }
    }
}
