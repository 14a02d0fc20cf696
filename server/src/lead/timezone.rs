//! Time zones of leads and whether a calling window is open for them.
//!
//! A lead's zone is the one given with the lead, else derived from its number: the country
//! calling code, and within the North American Numbering Plan the area code (US and Canadian
//! states span several zones). Countries spanning several zones without a finer rule here use
//! their most populous zone; give leads an explicit zone where that matters. Zones come from
//! the IANA database bundled into the binary, so daylight-saving rules are the same on every
//! machine.

use app::model::{CallingWindow, PhoneNumber};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::HashMap;

/// The zone for numbers nothing better is known about.
pub const FALLBACK_ZONE: &str = "UTC";

/// Whether `name` is an IANA zone this build knows.
pub fn is_known(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

/// The IANA zone a number is most likely in.
pub fn zone_for_number(phone: &PhoneNumber) -> &'static str {
    let d = phone.digits();
    if let Some(rest) = d.strip_prefix('1') {
        return rest.get(..3).and_then(nanp_zone).unwrap_or("America/New_York");
    }
    // Longest matching prefix first: codes are 1 to 3 digits, some with a sub-range.
    (1..=4)
        .rev()
        .filter_map(|n| d.get(..n))
        .find_map(|prefix| COUNTRY_ZONES.iter().find(|(p, _)| *p == prefix).map(|(_, z)| *z))
        .unwrap_or(FALLBACK_ZONE)
}

/// Minutes after local midnight at `wall_ms` (Unix milliseconds) in `zone`.
pub fn local_minute(zone: &TimeZone, wall_ms: i64) -> u16 {
    let ts = Timestamp::from_millisecond(wall_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(zone.clone());
    (z.hour() as u16) * 60 + z.minute() as u16
}

/// Looks zones up once and answers "is the window open there now?".
#[derive(Default)]
pub struct WindowCheck {
    zones: HashMap<String, TimeZone>,
}

impl WindowCheck {
    /// Whether `window` is open in `zone` at `wall_ms`; an unknown zone counts as UTC.
    pub fn is_open(&mut self, window: CallingWindow, zone: &str, wall_ms: i64) -> bool {
        let tz = self
            .zones
            .entry(zone.to_string())
            .or_insert_with(|| TimeZone::get(zone).unwrap_or(TimeZone::UTC));
        window.contains(local_minute(tz, wall_ms))
    }

    /// The zones among `zones` where `window` is open at `wall_ms`.
    pub fn open_zones<'a>(
        &mut self,
        window: CallingWindow,
        zones: impl IntoIterator<Item = &'a str>,
        wall_ms: i64,
    ) -> Vec<String> {
        zones.into_iter().filter(|z| self.is_open(window, z, wall_ms)).map(String::from).collect()
    }
}

/// Area code → zone for the North American Numbering Plan.
fn nanp_zone(area: &str) -> Option<&'static str> {
    NANP_ZONES.iter().find(|(_, codes)| codes.contains(&area)).map(|(z, _)| *z)
}

const NANP_ZONES: &[(&str, &[&str])] = &[
    (
        "America/New_York",
        &[
            "201", "202", "203", "207", "212", "215", "216", "220", "223", "229", "234", "239",
            "240", "248", "252", "267", "272", "276", "283", "301", "302", "304", "305", "313",
            "315", "321", "326", "330", "332", "336", "339", "347", "351", "352", "380", "386",
            "401", "404", "407", "410", "412", "413", "419", "423", "434", "440", "443", "445",
            "470", "475", "478", "484", "508", "513", "516", "517", "518", "540", "551", "561",
            "567", "570", "571", "582", "585", "586", "603", "606", "607", "609", "610", "614",
            "616", "617", "631", "640", "646", "667", "678", "680", "681", "689", "703", "704",
            "706", "716", "717", "718", "724", "727", "732", "734", "740", "743", "754", "757",
            "762", "770", "771", "772", "774", "781", "786", "802", "803", "804", "810", "813",
            "814", "826", "828", "835", "838", "839", "843", "845", "848", "854", "856", "857",
            "859", "860", "862", "863", "864", "865", "878", "904", "908", "910", "912", "914",
            "917", "919", "929", "934", "937", "941", "943", "947", "948", "954", "959", "973",
            "978", "980", "984", "989", "231", "269", "502", "906", "800", "833", "844", "855",
            "866", "877", "888",
        ],
    ),
    ("America/Indiana/Indianapolis", &["260", "317", "463", "574", "765", "812", "930"]),
    (
        "America/Toronto",
        &[
            "226", "249", "263", "289", "343", "354", "365", "367", "382", "416", "418", "437",
            "438", "450", "468", "514", "519", "548", "579", "581", "613", "647", "683", "705",
            "742", "753", "807", "819", "873", "905",
        ],
    ),
    (
        "America/Chicago",
        &[
            "205", "210", "214", "217", "218", "219", "224", "225", "228", "251", "254", "256",
            "262", "270", "274", "281", "308", "309", "312", "314", "316", "318", "319", "320",
            "325", "331", "334", "337", "346", "361", "364", "402", "405", "409", "414", "417",
            "430", "432", "447", "464", "469", "479", "501", "504", "507", "512", "515", "531",
            "534", "539", "557", "563", "572", "573", "580", "601", "605", "608", "612", "615",
            "618", "620", "629", "630", "636", "641", "651", "659", "660", "662", "682", "701",
            "708", "712", "713", "715", "726", "731", "737", "763", "769", "773", "779", "785",
            "806", "815", "816", "817", "830", "832", "847", "850", "870", "872", "901", "903",
            "913", "918", "920", "931", "936", "938", "940", "945", "952", "956", "972", "975",
            "979", "985",
        ],
    ),
    ("America/Winnipeg", &["204", "431", "584"]),
    ("America/Regina", &["306", "474", "639"]),
    (
        "America/Denver",
        &[
            "303", "307", "385", "406", "435", "505", "575", "719", "720", "801", "915", "970",
            "983",
        ],
    ),
    ("America/Boise", &["208", "986"]),
    ("America/Phoenix", &["480", "520", "602", "623", "928"]),
    ("America/Edmonton", &["368", "403", "587", "780", "825"]),
    (
        "America/Los_Angeles",
        &[
            "206", "209", "213", "253", "279", "310", "323", "341", "350", "360", "369", "408",
            "415", "424", "425", "442", "458", "503", "509", "510", "530", "541", "559", "562",
            "564", "619", "626", "628", "650", "657", "661", "669", "702", "707", "714", "725",
            "747", "760", "775", "805", "818", "820", "831", "840", "858", "909", "916", "925",
            "949", "951", "971",
        ],
    ),
    ("America/Vancouver", &["236", "250", "257", "604", "672", "778"]),
    ("America/Anchorage", &["907"]),
    ("Pacific/Honolulu", &["808"]),
    ("America/Halifax", &["782", "902"]),
    ("America/Moncton", &["506"]),
    ("America/St_Johns", &["709", "879"]),
    ("America/Puerto_Rico", &["787", "939"]),
    ("America/Santo_Domingo", &["809", "829", "849"]),
    ("America/Jamaica", &["658", "876"]),
    ("America/Port_of_Spain", &["868"]),
    ("America/Nassau", &["242"]),
    ("America/Barbados", &["246"]),
    ("Atlantic/Bermuda", &["441"]),
    ("America/St_Thomas", &["340"]),
    ("America/Cayman", &["345"]),
    ("Pacific/Guam", &["671"]),
    ("Pacific/Saipan", &["670"]),
    ("Pacific/Pago_Pago", &["684"]),
];

/// Country calling code (or code plus leading digits) → zone.
const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("7", "Europe/Moscow"),
    ("76", "Asia/Almaty"),
    ("77", "Asia/Almaty"),
    ("20", "Africa/Cairo"),
    ("27", "Africa/Johannesburg"),
    ("30", "Europe/Athens"),
    ("31", "Europe/Amsterdam"),
    ("32", "Europe/Brussels"),
    ("33", "Europe/Paris"),
    ("34", "Europe/Madrid"),
    ("36", "Europe/Budapest"),
    ("39", "Europe/Rome"),
    ("40", "Europe/Bucharest"),
    ("41", "Europe/Zurich"),
    ("43", "Europe/Vienna"),
    ("44", "Europe/London"),
    ("45", "Europe/Copenhagen"),
    ("46", "Europe/Stockholm"),
    ("47", "Europe/Oslo"),
    ("48", "Europe/Warsaw"),
    ("49", "Europe/Berlin"),
    ("51", "America/Lima"),
    ("52", "America/Mexico_City"),
    ("53", "America/Havana"),
    ("54", "America/Argentina/Buenos_Aires"),
    ("55", "America/Sao_Paulo"),
    ("56", "America/Santiago"),
    ("57", "America/Bogota"),
    ("58", "America/Caracas"),
    ("60", "Asia/Kuala_Lumpur"),
    ("61", "Australia/Sydney"),
    ("612", "Australia/Sydney"),
    ("613", "Australia/Melbourne"),
    ("617", "Australia/Brisbane"),
    ("618", "Australia/Perth"),
    ("62", "Asia/Jakarta"),
    ("63", "Asia/Manila"),
    ("64", "Pacific/Auckland"),
    ("65", "Asia/Singapore"),
    ("66", "Asia/Bangkok"),
    ("81", "Asia/Tokyo"),
    ("82", "Asia/Seoul"),
    ("84", "Asia/Ho_Chi_Minh"),
    ("86", "Asia/Shanghai"),
    ("90", "Europe/Istanbul"),
    ("91", "Asia/Kolkata"),
    ("92", "Asia/Karachi"),
    ("93", "Asia/Kabul"),
    ("94", "Asia/Colombo"),
    ("95", "Asia/Yangon"),
    ("98", "Asia/Tehran"),
    ("212", "Africa/Casablanca"),
    ("213", "Africa/Algiers"),
    ("216", "Africa/Tunis"),
    ("218", "Africa/Tripoli"),
    ("220", "Africa/Banjul"),
    ("221", "Africa/Dakar"),
    ("225", "Africa/Abidjan"),
    ("233", "Africa/Accra"),
    ("234", "Africa/Lagos"),
    ("237", "Africa/Douala"),
    ("244", "Africa/Luanda"),
    ("249", "Africa/Khartoum"),
    ("251", "Africa/Addis_Ababa"),
    ("254", "Africa/Nairobi"),
    ("255", "Africa/Dar_es_Salaam"),
    ("256", "Africa/Kampala"),
    ("260", "Africa/Lusaka"),
    ("263", "Africa/Harare"),
    ("351", "Europe/Lisbon"),
    ("352", "Europe/Luxembourg"),
    ("353", "Europe/Dublin"),
    ("354", "Atlantic/Reykjavik"),
    ("356", "Europe/Malta"),
    ("357", "Asia/Nicosia"),
    ("358", "Europe/Helsinki"),
    ("359", "Europe/Sofia"),
    ("370", "Europe/Vilnius"),
    ("371", "Europe/Riga"),
    ("372", "Europe/Tallinn"),
    ("373", "Europe/Chisinau"),
    ("374", "Asia/Yerevan"),
    ("375", "Europe/Minsk"),
    ("380", "Europe/Kyiv"),
    ("381", "Europe/Belgrade"),
    ("385", "Europe/Zagreb"),
    ("386", "Europe/Ljubljana"),
    ("387", "Europe/Sarajevo"),
    ("389", "Europe/Skopje"),
    ("420", "Europe/Prague"),
    ("421", "Europe/Bratislava"),
    ("502", "America/Guatemala"),
    ("503", "America/El_Salvador"),
    ("504", "America/Tegucigalpa"),
    ("505", "America/Managua"),
    ("506", "America/Costa_Rica"),
    ("507", "America/Panama"),
    ("591", "America/La_Paz"),
    ("593", "America/Guayaquil"),
    ("595", "America/Asuncion"),
    ("598", "America/Montevideo"),
    ("852", "Asia/Hong_Kong"),
    ("853", "Asia/Macau"),
    ("855", "Asia/Phnom_Penh"),
    ("880", "Asia/Dhaka"),
    ("886", "Asia/Taipei"),
    ("960", "Indian/Maldives"),
    ("961", "Asia/Beirut"),
    ("962", "Asia/Amman"),
    ("963", "Asia/Damascus"),
    ("964", "Asia/Baghdad"),
    ("965", "Asia/Kuwait"),
    ("966", "Asia/Riyadh"),
    ("968", "Asia/Muscat"),
    ("970", "Asia/Gaza"),
    ("971", "Asia/Dubai"),
    ("972", "Asia/Jerusalem"),
    ("973", "Asia/Bahrain"),
    ("974", "Asia/Qatar"),
    ("977", "Asia/Kathmandu"),
    ("994", "Asia/Baku"),
    ("995", "Asia/Tbilisi"),
    ("998", "Asia/Tashkent"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(n: &str) -> &'static str {
        zone_for_number(&PhoneNumber::parse(n).unwrap())
    }

    #[test]
    fn numbers_map_to_zones() {
        assert_eq!(zone("+12125550100"), "America/New_York");
        assert_eq!(zone("+13125550100"), "America/Chicago");
        assert_eq!(zone("+14155550100"), "America/Los_Angeles");
        assert_eq!(zone("+16025550100"), "America/Phoenix");
        assert_eq!(zone("+14165550100"), "America/Toronto");
        assert_eq!(zone("+442079460958"), "Europe/London");
        assert_eq!(zone("+4930123456"), "Europe/Berlin");
        assert_eq!(zone("+61812345678"), "Australia/Perth");
        assert_eq!(zone("+61212345678"), "Australia/Sydney");
        assert_eq!(zone("+77011234567"), "Asia/Almaty");
        assert_eq!(zone("+74951234567"), "Europe/Moscow");
        assert_eq!(zone("+35312345678"), "Europe/Dublin");
        assert_eq!(zone("+88212345678"), FALLBACK_ZONE, "unknown codes fall back");
    }

    #[test]
    fn every_zone_in_the_tables_is_known() {
        for (z, _) in NANP_ZONES {
            assert!(is_known(z), "{z}");
        }
        for (_, z) in COUNTRY_ZONES {
            assert!(is_known(z), "{z}");
        }
        assert!(!is_known("Mars/Olympus_Mons"));
    }

    /// 2026-03-08 is when New York moves to daylight time (02:00 → 03:00).
    #[test]
    fn windows_follow_daylight_saving() {
        let w = CallingWindow::default(); // 08:00–21:00
        let mut check = WindowCheck::default();
        // 2026-03-07 12:59 UTC = 07:59 EST (UTC-5): closed. 13:00 UTC = 08:00 EST: open.
        let before = 1_772_888_340_000; // 2026-03-07T12:59:00Z
        assert!(!check.is_open(w, "America/New_York", before));
        assert!(check.is_open(w, "America/New_York", before + 60_000));
        // A week later, 12:00 UTC = 08:00 EDT (UTC-4): open; 11:59 UTC closed.
        let after = 1_773_489_600_000; // 2026-03-14T12:00:00Z
        assert!(check.is_open(w, "America/New_York", after));
        assert!(!check.is_open(w, "America/New_York", after - 60_000));
        // The same instant is 12:00 in London (still GMT): open; 05:00 in Los Angeles: closed.
        assert!(check.is_open(w, "Europe/London", after));
        assert!(!check.is_open(w, "America/Los_Angeles", after));
        let open = check.open_zones(
            w,
            ["America/New_York", "America/Los_Angeles", "Europe/London"],
            after,
        );
        assert_eq!(open, ["America/New_York", "Europe/London"]);
        // An unknown zone is treated as UTC.
        assert!(check.is_open(w, "Nowhere/Special", after));
    }
}
