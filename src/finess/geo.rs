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
//! angle, isometric latitude from the radius, then latitude from the isometric latitude by fixed-point iteration.
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

/// Latitude (radians) from isometric latitude on GRS80 (IGN ALG0002), to 1e-12 rad; `None` if it does not settle.
fn latitude_from_isometric(isometric: f64) -> Option<f64> {
    let exp_l = isometric.exp();
    let mut phi = 2.0 * exp_l.atan() - std::f64::consts::FRAC_PI_2;
    for _ in 0..30 {
        let es = E * phi.sin();
        let next = 2.0 * (((1.0 + es) / (1.0 - es)).powf(E / 2.0) * exp_l).atan()
            - std::f64::consts::FRAC_PI_2;
        if (next - phi).abs() < 1e-12 {
            return Some(next);
        }
        phi = next;
    }
    None
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
