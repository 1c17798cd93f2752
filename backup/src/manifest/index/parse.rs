//! Reading `MANIFEST.json` from a stream: the top-level object field by field, the entries one
//! at a time straight into a [`Builder`].

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::super::{ManifestEntry, ManifestError};
use super::builder::{Builder, Parsed};

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Format,
    Version,
    Bundle,
    Entries,
    Totals,
}

/// Reads the top-level object; the entries go straight into a [`Builder`]. An entry the
/// builder refuses is kept in `refused` (the JSON error raised to stop parsing is dropped).
pub(super) struct TopVisitor<'r> {
    pub(super) refused: &'r mut Option<ManifestError>,
}

fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a celeriac manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let (mut format, mut version, mut bundle, mut builder, mut totals) =
            (None, None, None, None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Format => once(&mut format, map.next_value()?, "format")?,
                Field::Version => once(&mut version, map.next_value()?, "version")?,
                Field::Bundle => once(&mut bundle, map.next_value()?, "bundle")?,
                Field::Totals => once(&mut totals, map.next_value()?, "totals")?,
                Field::Entries => {
                    if builder.is_some() {
                        return Err(de::Error::duplicate_field("entries"));
                    }
                    let seed = EntriesSeed {
                        refused: &mut *self.refused,
                    };
                    builder = Some(map.next_value_seed(seed)?);
                }
            }
        }
        Ok(Parsed {
            format: format.ok_or_else(|| de::Error::missing_field("format"))?,
            version: version.ok_or_else(|| de::Error::missing_field("version"))?,
            bundle: bundle.ok_or_else(|| de::Error::missing_field("bundle"))?,
            builder: builder.ok_or_else(|| de::Error::missing_field("entries"))?,
            totals: totals.ok_or_else(|| de::Error::missing_field("totals"))?,
        })
    }
}

struct EntriesSeed<'r> {
    refused: &'r mut Option<ManifestError>,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Builder;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Builder, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Builder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of manifest entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Builder, A::Error> {
        let mut builder = Builder::default();
        while let Some(entry) = seq.next_element::<ManifestEntry>()? {
            if let Err(e) = builder.push(&entry) {
                *self.refused = Some(e);
                return Err(de::Error::custom("manifest entry refused"));
            }
        }
        Ok(builder)
    }
}
