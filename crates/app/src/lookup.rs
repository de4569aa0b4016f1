//! Finding accounts and schools by what people type: a login text, a user
//! code, a school code. Part of the lower layer of `app`: it reads the store
//! and calls no other module.

use varco_domain::person::Username;
use varco_domain::school_code::SchoolCode;
use varco_domain::user_code::UserCode;
use varco_store::{AccountRecord, SchoolRecord, Tx};

use crate::AppError;

/// How a login text was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginKey {
    Email(String),
    UserCode(UserCode),
    Username(Username),
    Nothing,
}

/// Reads a login text by its shape: an email, a user code or a username.
pub(crate) fn classify(login: &str) -> LoginKey {
    let login = login.trim();
    if login.contains('@') {
        return LoginKey::Email(login.to_owned());
    }
    if let Ok(code) = UserCode::parse(login) {
        return LoginKey::UserCode(code);
    }
    match Username::parse(login) {
        Ok(username) => LoginKey::Username(username),
        Err(_) => LoginKey::Nothing,
    }
}

/// The accounts a login text names: one for a user code or a username, up
/// to `max_email` sharing an email.
pub(crate) async fn candidates(tx: &mut Tx, key: &LoginKey, max_email: i64) -> Result<Vec<AccountRecord>, AppError> {
    Ok(match key {
        LoginKey::Email(email) => tx.accounts_by_email(email, max_email.max(1)).await?,
        LoginKey::UserCode(code) => tx.account_by_user_code(code.as_str()).await?.into_iter().collect(),
        LoginKey::Username(username) => tx.account_by_username(username.as_str()).await?.into_iter().collect(),
        LoginKey::Nothing => Vec::new(),
    })
}

/// The account with this user code, or `NotFound`.
pub(crate) async fn find_by_user_code(tx: &mut Tx, code: &str) -> Result<AccountRecord, AppError> {
    let code = UserCode::parse(code).map_err(|e| AppError::invalid("user_code", e))?;
    tx.account_by_user_code(code.as_str())
        .await?
        .ok_or(AppError::NotFound("account"))
}

/// The school with this code, or `NotFound`.
pub(crate) async fn find_school(tx: &mut Tx, code: &str) -> Result<SchoolRecord, AppError> {
    let code = SchoolCode::parse(code).map_err(|e| AppError::invalid("school", e))?;
    tx.school_by_code(code.as_str())
        .await?
        .ok_or(AppError::NotFound("school"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn login_text_is_classified_by_shape() {
        assert!(matches!(classify(" Maria.Rossi@Example.IT "), LoginKey::Email(_)));
        assert!(matches!(classify("mrossi"), LoginKey::Username(_)));
        assert_eq!(classify("!!"), LoginKey::Nothing);
        let code = UserCode::generate(&mut OsRng);
        assert_eq!(classify(&code.as_str().to_lowercase()), LoginKey::UserCode(code));
    }
}
