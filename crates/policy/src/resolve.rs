//! One value for each setting: built-in default < school recommended < user < school mandatory.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{Layer, PolicyKey, PolicySet, Problem, ProblemKind};

/// The `source` of problems with the user's own settings.
pub const USER_SOURCE: &str = "user settings";

/// The built-in defaults of every key ([`PolicyKey::default_value`]).
pub fn builtin_defaults() -> BTreeMap<PolicyKey, Value> {
    PolicyKey::ALL
        .into_iter()
        .map(|k| (k, k.default_value()))
        .collect()
}

/// A setting's value in effect, and why it is that value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    /// The value (`null` only for a key without a default that nobody set, e.g. `serverUrl`).
    pub value: Value,
    /// The layer the value came from.
    pub source: Layer,
    /// The school set it as mandatory: the user may not change it.
    pub locked: bool,
    /// For a value from a policy store, where it was found: a file path
    /// (`/etc/classroom/policies/managed/10-school.json`), a registry key
    /// (`HKLM\SOFTWARE\Policies\Classroom\Classroom`) or a plist path
    /// (`/Library/Managed Preferences/app.classroom.desktop.plist`). `None` for a default or
    /// the user's own value.
    pub why: Option<String>,
}

/// Every setting's value in effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// One entry for every [`PolicyKey`].
    pub settings: BTreeMap<PolicyKey, Effective>,
    /// The policy stores' problems, then the user settings' (values refused by their key).
    pub problems: Vec<Problem>,
}

/// A change refused because the school locked the setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{key} is locked by school policy ({locked_by})")]
pub struct Locked {
    /// The setting.
    pub key: PolicyKey,
    /// Where the school set it (as in [`Effective::why`]).
    pub locked_by: String,
}

/// Why a user's change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// The school locked the setting.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The key does not accept the value.
    #[error("{message}")]
    Invalid {
        /// The setting.
        key: PolicyKey,
        /// Why, from [`PolicyKey::check`].
        message: String,
    },
}

impl ChangeError {
    /// A stable word for the app's `{kind, message}` errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ChangeError::Locked(_) => "locked",
            ChangeError::Invalid { .. } => "invalid",
        }
    }
}

/// Each key's value from the highest layer that has one: `defaults` < `policy.recommended` <
/// `user` < `policy.mandatory`.
///
/// `user` is the user's settings object (camelCase names, as `settings.json` holds them): names
/// that are not keys are left alone (the file holds other things too); a key's value it does
/// not accept is skipped, so the layer below shows, and is reported in
/// [`Resolved::problems`]. A key in neither `defaults` nor any layer is `null` from
/// [`Layer::Default`].
pub fn resolve(
    defaults: &BTreeMap<PolicyKey, Value>,
    policy: &PolicySet,
    user: &Map<String, Value>,
) -> Resolved {
    let mut problems = policy.problems.clone();
    let mut settings = BTreeMap::new();
    for key in PolicyKey::ALL {
        let user_value = user.get(key.name()).and_then(|v| match key.check(v) {
            Ok(v) => Some(v),
            Err(message) => {
                problems.push(Problem {
                    source: USER_SOURCE.to_owned(),
                    key: Some(key.name().to_owned()),
                    kind: ProblemKind::InvalidValue,
                    message,
                });
                None
            }
        });
        let effective = if let Some(p) = policy.mandatory.get(&key) {
            Effective {
                value: p.value.clone(),
                source: Layer::Mandatory,
                locked: true,
                why: Some(p.source.clone()),
            }
        } else if let Some(value) = user_value {
            Effective {
                value,
                source: Layer::User,
                locked: false,
                why: None,
            }
        } else if let Some(p) = policy.recommended.get(&key) {
            Effective {
                value: p.value.clone(),
                source: Layer::Recommended,
                locked: false,
                why: Some(p.source.clone()),
            }
        } else {
            Effective {
                value: defaults.get(&key).cloned().unwrap_or(Value::Null),
                source: Layer::Default,
                locked: false,
                why: None,
            }
        };
        settings.insert(key, effective);
    }
    Resolved { settings, problems }
}

impl Resolved {
    /// A key's value in effect.
    pub fn get(&self, key: PolicyKey) -> Option<&Effective> {
        self.settings.get(&key)
    }

    /// A key's value.
    pub fn value(&self, key: PolicyKey) -> Option<&Value> {
        self.get(key).map(|e| &e.value)
    }

    /// Whether the user may change the key: refused, naming where the school locked it, when
    /// the key is locked.
    pub fn may_change(&self, key: PolicyKey) -> Result<(), Locked> {
        match self.get(key) {
            Some(e) if e.locked => Err(Locked {
                key,
                locked_by: e.why.clone().unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }

    /// Puts the user's new value for `key` into their settings object, checked: refused when
    /// the key is locked or does not accept the value. Resolve again afterwards to see it.
    pub fn set_user(
        &self,
        user: &mut Map<String, Value>,
        key: PolicyKey,
        value: &Value,
    ) -> Result<(), ChangeError> {
        self.may_change(key)?;
        let value = key
            .check(value)
            .map_err(|message| ChangeError::Invalid { key, message })?;
        user.insert(key.name().to_owned(), value);
        Ok(())
    }
}
