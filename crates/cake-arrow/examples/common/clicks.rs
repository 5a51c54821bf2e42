//! A synthetic Clicks response (`reports.asmx/Clicks` v12, HTTP GET form) of any size, in the
//! documented shape: namespaces, `API:id_name_store` leaves, nils, empty elements, omitted
//! elements, URL-encoded user agents, escaped and non-ASCII text. Written row by row to any
//! `Write`, so a response of gigabytes never sits in memory.

#![allow(dead_code)]

use std::io::{self, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const AFFILIATES: &[&str] = &[
    "Nordlicht Media GmbH",
    "Café Ünter &amp; Söhne",
    " Marco Neumann",
    "Blue &lt;Fox&gt; Ads",
    "Zürich Leads AG",
    "Prime €uro Traffic",
    "Acme Performance Ltd",
];
const OFFERS: &[&str] = &[
    "Spring Sale – DE",
    "Insurance Quote US",
    "Crédit Rapide FR",
    "Dating 25+ (Mobile)",
    "Sweepstakes iPhone 15",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/120.0.0.0%20Safari/537.36",
    "Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%2017_1%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.1%20Mobile/15E148%20Safari/604.1",
    "Mozilla/5.0%20(Linux;%20Android%2014;%20SM-S918B)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/119.0.0.0%20Mobile%20Safari/537.36",
    "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:121.0)%20Gecko/20100101%20Firefox/121.0",
];
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("DE", "Germany"),
    ("AT", "Österreich"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
];
const OS: &[&str] = &["Windows", "iOS", "Android", "Linux", "macOS"];
const BROWSERS: &[&str] = &["Chrome", "Safari", "Firefox", "Edge"];

/// Writes the document head: declaration, root with namespaces, envelope, `<clicks>`.
pub fn head(out: &mut impl Write, row_count: u64) -> io::Result<()> {
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<click_report_response \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns=\"http://cakemarketing.com/api/12/\">\n  <success>true</success>\n  \
         <row_count>{row_count}</row_count>\n  <clicks>\n"
    )
}

/// Writes `</clicks>` and the end of the document.
pub fn tail(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"  </clicks>\n</click_report_response>\n")
}

/// Writes click number `i` (0-based); values vary with `i` and `seed`.
pub fn row(out: &mut impl Write, i: u64, seed: u64) -> io::Result<()> {
    let mut r = Rng(seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let click_id = 1_000_000_000 + i;
    let ns = " xmlns=\"API:id_name_store\"";
    let day = 1 + (i / 40_000) % 28;
    let secs = (i * 7) % 86_400;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let ms = r.below(1000);
    writeln!(out, "    <click>")?;
    writeln!(out, "      <click_id>{click_id}</click_id>")?;
    writeln!(
        out,
        "      <visitor_id>{}</visitor_id>",
        50_000_000 + r.below(10_000_000)
    )?;
    if r.below(10) == 0 {
        writeln!(out, "      <original_visitor_id xsi:nil=\"true\" />")?;
    } else {
        writeln!(
            out,
            "      <original_visitor_id>{}</original_visitor_id>",
            50_000_000 + r.below(10_000_000)
        )?;
    }
    writeln!(
        out,
        "      <tracking_id>{}</tracking_id>",
        7_000_000_000u64 + i
    )?;
    writeln!(
        out,
        "      <original_tracking_id>{}</original_tracking_id>",
        7_000_000_000u64 + i
    )?;
    writeln!(
        out,
        "      <request_session_id>{}</request_session_id>",
        300_000_000 + r.below(100_000_000)
    )?;
    writeln!(out, "      <udid />")?;
    writeln!(
        out,
        "      <click_date>2024-03-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}</click_date>"
    )?;
    let aff = r.below(AFFILIATES.len() as u64) as usize;
    writeln!(
        out,
        "      <source_affiliate>\n        <source_affiliate_id{ns}>{}</source_affiliate_id>\n        <source_affiliate_name{ns}>{}</source_affiliate_name>\n      </source_affiliate>",
        1000 + aff,
        AFFILIATES[aff]
    )?;
    let adv = r.below(50);
    writeln!(
        out,
        "      <brand_advertiser>\n        <brand_advertiser_id{ns}>{}</brand_advertiser_id>\n        <brand_advertiser_name{ns}>Advertiser {}</brand_advertiser_name>\n      </brand_advertiser>",
        2000 + adv,
        adv
    )?;
    let offer = r.below(OFFERS.len() as u64) as usize;
    writeln!(
        out,
        "      <site_offer>\n        <site_offer_id{ns}>{}</site_offer_id>\n        <site_offer_name{ns}>{}</site_offer_name>\n      </site_offer>",
        300 + offer,
        OFFERS[offer]
    )?;
    writeln!(
        out,
        "      <site_offer_contract>\n        <site_offer_contract_id{ns}>{}</site_offer_contract_id>\n        <site_offer_contract_name{ns}>Default</site_offer_contract_name>\n      </site_offer_contract>",
        4000 + offer
    )?;
    writeln!(
        out,
        "      <campaign>\n        <campaign_id>{}</campaign_id>\n        <campaign_type>\n          <campaign_type_id>1</campaign_type_id>\n          <campaign_type_name>Standard</campaign_type_name>\n        </campaign_type>\n      </campaign>",
        10_000 + r.below(5000)
    )?;
    writeln!(
        out,
        "      <creative>\n        <creative_id{ns}>{}</creative_id>\n        <creative_name{ns}>Banner 300x250 v{}</creative_name>\n      </creative>",
        20_000 + r.below(900),
        r.below(9)
    )?;
    writeln!(out, "      <sub_id_1>s1-{}</sub_id_1>", r.below(100_000))?;
    if r.below(3) == 0 {
        writeln!(out, "      <sub_id_2 />")?;
    } else {
        writeln!(out, "      <sub_id_2>kw_{}</sub_id_2>", r.below(5000))?;
    }
    writeln!(
        out,
        "      <sub_id_3 />\n      <sub_id_4 />\n      <sub_id_5 />"
    )?;
    writeln!(
        out,
        "      <ip_address>{}.{}.{}.{}</ip_address>",
        1 + r.below(223),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    )?;
    writeln!(out, "      <user_agent>{}</user_agent>", r.pick(AGENTS))?;
    writeln!(
        out,
        "      <referrer_url>https://publisher{}.example.com/article?id={}&amp;utm_source=cake</referrer_url>",
        r.below(300),
        r.below(1_000_000)
    )?;
    writeln!(out, "      <search_term />")?;
    writeln!(
        out,
        "      <request_url>https://track.example.com/?a={}&amp;c={}&amp;s1=x</request_url>",
        1000 + aff,
        offer
    )?;
    writeln!(
        out,
        "      <redirect_url>https://landing.example.com/offer/{}?click={click_id}</redirect_url>",
        300 + offer
    )?;
    let (cc, cn) = COUNTRIES[r.below(COUNTRIES.len() as u64) as usize];
    writeln!(
        out,
        "      <country>\n        <country_code{ns}>{cc}</country_code>\n        <country_name{ns}>{cn}</country_name>\n      </country>"
    )?;
    writeln!(
        out,
        "      <region>\n        <region_code{ns}>R{}</region_code>\n        <region_name{ns}>Region {}</region_name>\n      </region>",
        r.below(60),
        r.below(60)
    )?;
    writeln!(
        out,
        "      <language>\n        <language_id{ns}>1</language_id>\n        <language_name{ns}>English</language_name>\n      </language>"
    )?;
    writeln!(
        out,
        "      <isp>\n        <isp_id{ns}>{}</isp_id>\n        <isp_name{ns}>ISP {}</isp_name>\n      </isp>",
        r.below(800),
        r.below(800)
    )?;
    let os = r.below(OS.len() as u64) as usize;
    writeln!(
        out,
        "      <operating_system>\n        <operating_system_id>{}</operating_system_id>\n        <operating_system_name>{}</operating_system_name>\n        <operating_system_version>\n          <version_id>{}</version_id>\n          <version_name>{}</version_name>\n        </operating_system_version>\n        <operating_system_version_minor>\n          <version_id xsi:nil=\"true\" />\n          <version_name />\n        </operating_system_version_minor>\n      </operating_system>",
        os + 1,
        OS[os],
        100 + r.below(20),
        10 + r.below(8)
    )?;
    let br = r.below(BROWSERS.len() as u64) as usize;
    writeln!(
        out,
        "      <browser>\n        <browser_id>{}</browser_id>\n        <browser_name>{}</browser_name>\n        <browser_version>\n          <version_id>{}</version_id>\n          <version_name>{}</version_name>\n        </browser_version>\n        <browser_version_minor>\n          <version_id>{}</version_id>\n          <version_name>{}.0</version_name>\n        </browser_version_minor>\n      </browser>",
        br + 1,
        BROWSERS[br],
        200 + r.below(40),
        100 + r.below(30),
        300 + r.below(40),
        r.below(10)
    )?;
    writeln!(
        out,
        "      <channel>\n        <channel_id{ns}>0</channel_id>\n        <channel_name{ns} />\n      </channel>"
    )?;
    writeln!(
        out,
        "      <device>\n        <device_id{ns}>{}</device_id>\n        <device_name{ns}>{}</device_name>\n      </device>",
        r.below(4),
        r.pick(&["Desktop", "Mobile", "Tablet", "Other"])
    )?;
    writeln!(
        out,
        "      <paid>\n        <amount>{}.{:04}</amount>\n      </paid>\n      <received>\n        <amount>{}.{:04}</amount>\n      </received>",
        r.below(3),
        r.below(10_000),
        r.below(5),
        r.below(10_000)
    )?;
    if r.below(4) == 0 {
        writeln!(out, "      <disposition />")?;
    }
    let dup = r.below(20) == 0;
    writeln!(out, "      <duplicate>{dup}</duplicate>")?;
    writeln!(
        out,
        "      <duplicate_clicks>{}</duplicate_clicks>",
        u64::from(dup)
    )?;
    writeln!(
        out,
        "      <total_clicks>{}</total_clicks>",
        1 + u64::from(dup)
    )?;
    writeln!(out, "    </click>")
}

/// Writes a whole response of at least `bytes` bytes; returns (rows, bytes written).
pub fn write_response(out: &mut impl Write, bytes: u64, seed: u64) -> io::Result<(u64, u64)> {
    let mut counter = Counter { inner: out, n: 0 };
    head(&mut counter, 0)?;
    let mut rows = 0;
    while counter.n < bytes {
        row(&mut counter, rows, seed)?;
        rows += 1;
    }
    tail(&mut counter)?;
    Ok((rows, counter.n))
}

struct Counter<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
