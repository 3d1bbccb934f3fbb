//! The Annuaire client (`segur-annuaire`) against the FHIR simulator (`sim::fhir`) serving a synthetic FINESS
//! index over plain HTTP on 127.0.0.1:0: identifier searches (FINESS and idNat_Struct systems), name search over
//! several pages, `partof`, and a refused API key.

use std::collections::HashSet;
use std::sync::Arc;

use segur_annuaire::{AnnuaireClient, AnnuaireError, OrgQuery};
use segur_gateway::finess::csv_import::import_csv;
use segur_gateway::finess::index::{FinessIndex, SearchQuery};
use segur_gateway::finess::synth;
use segur_gateway::sim::fhir;

const KEY: &str = "test-api-key";

fn synthetic_index() -> FinessIndex {
    let mut csv = Vec::new();
    synth::write_csv(&mut csv, 120, 30, 42).unwrap();
    FinessIndex::build(import_csv(csv.as_slice()).unwrap().dataset)
}

/// Starts the simulator; returns its base URL.
async fn start(index: Arc<(i64, FinessIndex)>) -> String {
    let source: fhir::IndexSource = Arc::new(move || Some(index.clone()));
    let app = axum::Router::new().nest("/fhir/v2", fhir::router(source, Some(KEY.to_owned())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/fhir/v2/")
}

fn client(base: &str, key: &str) -> AnnuaireClient {
    segur_gateway::pki::tls::install_default_provider();
    AnnuaireClient::new(base, Some(key.to_owned()), reqwest::Client::new()).unwrap()
}

/// A word starting names of at least 5 structures (and not too many), with its matches in the index.
fn name_with_matches(index: &FinessIndex) -> (String, usize) {
    let words: HashSet<String> = index
        .dataset()
        .establishments
        .iter()
        .flat_map(|e| e.name().split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| w.len() >= 4)
        .collect();
    let mut words: Vec<String> = words.into_iter().collect();
    words.sort();
    words
        .into_iter()
        .map(|w| {
            let n = index
                .search(&SearchQuery::new(&w).include_closed(true).limit(10_000))
                .len();
            (w, n)
        })
        .find(|(_, n)| (5..=40).contains(n))
        .expect("a name shared by 5 to 40 structures")
}

#[tokio::test]
async fn annuaire_client_against_the_simulator() {
    let index = synthetic_index();
    let (word, expected_by_name) = name_with_matches(&index);
    let ej = index
        .dataset()
        .entities
        .iter()
        .find(|ej| index.establishments_of(&ej.finess).count() >= 2)
        .expect("a legal entity with sites")
        .clone();
    let sites: Vec<String> = index
        .establishments_of(&ej.finess)
        .map(|e| e.finess.to_string())
        .collect();
    let site = index
        .dataset()
        .establishments
        .iter()
        .find(|e| e.entity == ej.finess)
        .unwrap()
        .clone();
    let base = start(Arc::new((1, index))).await;
    let annuaire = client(&base, KEY);

    // By FINESS identifier (the Annuaire's system and the spec's older one).
    for system in [
        "https://finess.esante.gouv.fr",
        "http://finess.sante.gouv.fr",
    ] {
        let query = OrgQuery {
            identifier: Some(format!("{system}|{}", site.finess)),
            ..OrgQuery::default()
        };
        let orgs = annuaire.organizations(&query).await.unwrap();
        assert_eq!(orgs.len(), 1, "{system}");
        let org = &orgs[0];
        assert_eq!(org.finess.as_deref(), Some(site.finess.as_str()));
        assert_eq!(org.id_nat_struct, Some(site.finess.to_id_nat_struct()));
        assert_eq!(org.kind.as_deref(), Some("FINEG"));
        assert_eq!(org.category.as_deref(), site.category());
        assert_eq!(org.name, site.name());
        assert_eq!(org.partof, Some(format!("Organization/org-{}", ej.finess)));
        if let Some(code) = site.address().postal_code {
            assert_eq!(
                org.address.as_ref().and_then(|a| a.postal_code.as_deref()),
                Some(code)
            );
        }
    }

    // By idNat_Struct.
    let query = OrgQuery {
        identifier: Some(format!(
            "urn:oid:1.2.250.1.71.4.2.2|{}",
            ej.finess.to_id_nat_struct()
        )),
        ..OrgQuery::default()
    };
    let orgs = annuaire.organizations(&query).await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].finess.as_deref(), Some(ej.finess.as_str()));
    assert_eq!(orgs[0].kind.as_deref(), Some("FINEJ"));
    let ej_ref = format!("Organization/{}", orgs[0].id);

    // By name, two per page: at least three pages, every match once.
    let query = OrgQuery {
        name: Some(word.clone()),
        count: Some(2),
        max_pages: 100,
        ..OrgQuery::default()
    };
    let found = annuaire.search(&query).await.unwrap();
    assert_eq!(found.orgs.len(), expected_by_name, "{word}");
    assert_eq!(found.total, Some(expected_by_name as u32));
    assert!(found.pages >= 3, "{} pages", found.pages);
    assert!(!found.truncated);
    let distinct: HashSet<_> = found
        .orgs
        .iter()
        .map(|o| (o.finess.clone(), o.kind.clone()))
        .collect();
    assert_eq!(distinct.len(), expected_by_name);
    let capped = annuaire
        .search(&OrgQuery {
            max_pages: 2,
            ..query
        })
        .await
        .unwrap();
    assert_eq!(
        (capped.orgs.len(), capped.pages, capped.truncated),
        (4, 2, true)
    );

    // The sites of the legal entity, through the id the Annuaire gave it.
    let query = OrgQuery {
        partof: Some(ej_ref),
        count: Some(2),
        max_pages: 100,
        ..OrgQuery::default()
    };
    let mut got: Vec<String> = annuaire
        .organizations(&query)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|o| o.finess)
        .collect();
    let mut want = sites.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // A wrong key.
    let err = client(&base, "wrong")
        .organizations(&OrgQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AnnuaireError::Unauthorized { status: 401 }),
        "{err:?}"
    );
    assert!(!err.is_transient());
}
