//! Lambert-93 (EPSG:2154) to WGS84 longitude/latitude, for the coordinates of the national FINESS files.
//!
//! `spec/finess.md`, section "National files": the legacy CSV `geolocalisation` lines give `coordxet`/`coordyet`
//! in Lambert-93 for mainland France and Corsica, and in other projections overseas (UTM zones for the Antilles,
//! Guyane, Réunion and Mayotte). This module only handles Lambert-93: overseas points are the importer's business
//! (it knows the department and the `sourcecoordet` field). The FiNESS+ JSON gives latitude/longitude directly.
//!
//! The projection is the secant Lambert conformal conic on the GRS80 ellipsoid (RGF93), standard parallels 44°N
//! and 49°N, origin 46°30'N 3°E at X = 700 000 m, Y = 6 600 000 m. The inverse follows IGN's published algorithms
//! (note NT/G 71: ALG0004, inverse projection, and ALG0002, latitude from isometric latitude) with IGN's
//! projection constants `n`, `C`, `Xs`, `Ys`: polar radius and angle around the cone apex, longitude from the
//! angle, isometric latitude from the radius, then latitude from the isometric latitude.
//!
//! For that last step ALG0002 iterates (a sine, a power and an arc tangent per turn, five turns to 1e-12 rad).
//! This module uses the closed form instead: the conformal latitude χ = 2·atan(exp(L)) − π/2, then the series in
//! sin 2χ … sin 8χ (J. P. Snyder, *Map Projections: A Working Manual*, USGS 1987, eq. 3-5), whose first omitted
//! term (in e¹⁰) is of the order of 1e-12 rad on GRS80. A test checks it against the iteration over the whole area
//! of use: they differ by less than 1e-10 degree (about ten micrometres; the iteration itself stops within 1e-12
//! rad). The iteration was about 6% of the legacy CSV reader's samples; the closed form does not show.
//!
//! RGF93 and WGS84 differ by a few centimetres, far below what a site's address needs; no datum shift is applied.

/// First eccentricity of the GRS80 ellipsoid.
const E: f64 = 0.081_819_191_042_815_8;
/// Cone constant `n` of Lambert-93 (IGN).
const N: f64 = 0.725_607_765_053_267;
/// Projection constant `C` of Lambert-93, in metres (IGN).
const C: f64 = 11_754_255.426_096;
/// X of the cone apex (false easting), in metres.
const XS: f64 = 700_000.0;
/// Y of the cone apex, in metres (IGN).
const YS: f64 = 12_655_612.049_9;
/// Central meridian, 3°E, in radians.
const LAMBDA0: f64 = 3.0 * std::f64::consts::PI / 180.0;

/// Area of use of EPSG:2154 (mainland France and Corsica, with their waters), in degrees: west, south, east, north.
const AREA: (f64, f64, f64, f64) = (-9.86, 41.15, 10.38, 51.56);

/// Converts a Lambert-93 point (metres) to WGS84 `(longitude, latitude)` in degrees.
///
/// Returns `None` for non-finite input, or when the point falls outside the EPSG:2154 area of use (which is what
/// overseas UTM coordinates, swapped X/Y and zeros give).
pub fn lambert93_to_wgs84(x: f64, y: f64) -> Option<(f64, f64)> {
    if !x.is_finite() || !y.is_finite() {
        return None;
    }
    let dx = x - XS;
    let dy = YS - y;
    let r = dx.hypot(dy);
    if r <= 0.0 {
        return None;
    }
    let gamma = dx.atan2(dy);
    let lon = (LAMBDA0 + gamma / N).to_degrees();
    let isometric = -(r / C).ln() / N;
    let lat = latitude_from_isometric(isometric)?.to_degrees();
    let (west, south, east, north) = AREA;
    if (west..=east).contains(&lon) && (south..=north).contains(&lat) {
        Some((lon, lat))
    } else {
        None
    }
}

/// Latitude (radians) from isometric latitude on GRS80: the conformal latitude, then Snyder's series (eq. 3-5)
/// in sines of its multiples, with the coefficients in powers of e².
fn latitude_from_isometric(isometric: f64) -> Option<f64> {
    const E2: f64 = E * E;
    const E4: f64 = E2 * E2;
    const E6: f64 = E4 * E2;
    const E8: f64 = E4 * E4;
    const A2: f64 = E2 / 2.0 + 5.0 * E4 / 24.0 + E6 / 12.0 + 13.0 * E8 / 360.0;
    const A4: f64 = 7.0 * E4 / 48.0 + 29.0 * E6 / 240.0 + 811.0 * E8 / 11_520.0;
    const A6: f64 = 7.0 * E6 / 120.0 + 81.0 * E8 / 1_120.0;
    const A8: f64 = 4_279.0 * E8 / 161_280.0;
    let chi = 2.0 * isometric.exp().atan() - std::f64::consts::FRAC_PI_2;
    if !chi.is_finite() {
        return None;
    }
    // sin 2kχ from sin 2χ and cos 2χ (Chebyshev recurrence: one sine and one cosine in all).
    let (s2, c2) = (2.0 * chi).sin_cos();
    let s4 = 2.0 * s2 * c2;
    let c4 = 2.0 * c2 * c2 - 1.0;
    let s6 = s4 * c2 + c4 * s2;
    let s8 = 2.0 * s4 * c4;
    Some(chi + A2 * s2 + A4 * s4 + A6 * s6 + A8 * s8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Option<(f64, f64)>, lon: f64, lat: f64, tol: f64) {
        let (glon, glat) = got.unwrap_or_else(|| panic!("no result, expected {lon} {lat}"));
        assert!(
            (glon - lon).abs() < tol && (glat - lat).abs() < tol,
            "got {glon} {glat}, expected {lon} {lat}"
        );
    }

    #[test]
    fn projection_origin() {
        // By definition of Lambert-93: 3°E 46°30'N is X 700 000, Y 6 600 000.
        close(lambert93_to_wgs84(700_000.0, 6_600_000.0), 3.0, 46.5, 1e-9);
    }

    #[test]
    fn points_from_the_national_file_sample() {
        // ansforge/finess, flux/out/data.gouv/structure/examples/sample-finess-structures-journalier-20260309.json:
        // each address gives projected coordinates (with X and Y swapped, a known issue) and BAN latitude/longitude
        // rounded to 6 decimals.
        // Divonne-les-Bains (01): coordonneeX 6589480.53, coordonneeY 941342.52, 46.362063 N 6.139885 E.
        close(
            lambert93_to_wgs84(941_342.52, 6_589_480.53),
            6.139_885,
            46.362_063,
            2e-6,
        );
        // Bourg-en-Bresse (01): coordonneeX 6570414.61, coordonneeY 873766.07, 46.211257 N 5.254203 E.
        close(
            lambert93_to_wgs84(873_766.07, 6_570_414.61),
            5.254_203,
            46.211_257,
            2e-6,
        );
    }

    #[test]
    fn paris_and_corsica() {
        // Parvis of Notre-Dame de Paris, 2.349902 E 48.852968 N, projected forward with the same constants
        // (an independent implementation of the direct formulas, ALG0003).
        close(
            lambert93_to_wgs84(652_297.09, 6_861_632.80),
            2.349_902,
            48.852_968,
            1e-5,
        );
        // Rounded figures still land in central Paris.
        close(
            lambert93_to_wgs84(652_000.0, 6_862_000.0),
            2.3458,
            48.8562,
            1e-3,
        );
        // Ajaccio: Corsica is inside Lambert-93.
        let (lon, lat) = lambert93_to_wgs84(1_176_526.6, 6_108_263.0).unwrap();
        assert!(
            (8.7..8.8).contains(&lon) && (41.9..42.0).contains(&lat),
            "{lon} {lat}"
        );
    }

    /// IGN ALG0002 as published: fixed-point iteration to 1e-12 rad.
    fn latitude_by_iteration(isometric: f64) -> f64 {
        let exp_l = isometric.exp();
        let mut phi = 2.0 * exp_l.atan() - std::f64::consts::FRAC_PI_2;
        loop {
            let es = E * phi.sin();
            let next = 2.0 * (((1.0 + es) / (1.0 - es)).powf(E / 2.0) * exp_l).atan()
                - std::f64::consts::FRAC_PI_2;
            if (next - phi).abs() < 1e-12 {
                return next;
            }
            phi = next;
        }
    }

    #[test]
    fn series_matches_the_iteration() {
        // Isometric latitudes of 35°N to 57°N (beyond the area of use on both sides), in 10,000 steps.
        let mut worst = 0.0f64;
        for i in 0..=10_000 {
            let isometric = 0.65 + 0.6 * f64::from(i) / 10_000.0;
            let series = latitude_from_isometric(isometric).unwrap();
            worst = worst.max(
                (series - latitude_by_iteration(isometric))
                    .abs()
                    .to_degrees(),
            );
        }
        // The iteration itself stops within 1e-12 rad (6e-11 degree); 3e-11 degree was measured.
        assert!(worst < 1e-10, "worst difference {worst:e} degree");
        // The ends of the range are where they should be.
        let south = latitude_from_isometric(0.65).unwrap().to_degrees();
        let north = latitude_from_isometric(1.25).unwrap().to_degrees();
        assert!(south < 41.0 && north > 52.0, "{south} {north}");
    }

    #[test]
    fn out_of_range_is_none() {
        assert_eq!(lambert93_to_wgs84(f64::NAN, 6_600_000.0), None);
        assert_eq!(lambert93_to_wgs84(700_000.0, f64::INFINITY), None);
        assert_eq!(lambert93_to_wgs84(0.0, 0.0), None);
        // The cone apex itself.
        assert_eq!(lambert93_to_wgs84(XS, YS), None);
        // Swapped X/Y, as in the FiNESS+ sample before correction.
        assert_eq!(lambert93_to_wgs84(6_589_480.53, 941_342.52), None);
        // UTM coordinates of Réunion (zone 40S) and Guadeloupe (zone 20N) are not Lambert-93.
        assert_eq!(lambert93_to_wgs84(340_000.0, 7_650_000.0), None);
        assert_eq!(lambert93_to_wgs84(650_000.0, 1_780_000.0), None);
        assert_eq!(lambert93_to_wgs84(f64::MAX, f64::MIN), None);
    }
}
