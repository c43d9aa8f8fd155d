//! Join tokens: JWTs signed with HS256 and a secret the server and whoever
//! mints tokens share (as LiveKit's and Janus's token auth do), naming the
//! session and the user they let in, and when they stop doing so.
//! `calltop token` mints them; `calltop serve --token-secret` checks them.

use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How much clock difference between minter and server is forgiven.
pub const LEEWAY: Duration = Duration::from_secs(5);
/// The shortest secret accepted: HS256 is only as strong as its key.
pub const MIN_SECRET_BYTES: usize = 16;

/// What a join token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The session it lets its holder join.
    pub session: String,
    /// The user it lets its holder join as.
    pub sub: String,
    /// When it was minted, in seconds since the Unix epoch.
    pub iat: u64,
    /// When it stops letting its holder in, in seconds since the Unix epoch
    /// (checked with [`LEEWAY`]).
    pub exp: u64,
}

/// Why a token lets nobody in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("the token secret is shorter than {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    /// The token's `exp` has passed (by more than [`LEEWAY`]).
    #[error("the token has expired")]
    Expired,
    /// The token was not signed with this secret.
    #[error("the token's signature does not match this server's secret")]
    BadSignature,
    /// Not a JWT with the claims a join token needs (the JWT library's words).
    #[error("not a join token: {0}")]
    Malformed(String),
    /// A valid token for another session or user.
    #[error("the token is for {what} {token:?}, not {asked:?}")]
    Mismatch {
        /// What differs: `session` or `user`.
        what: &'static str,
        /// What the token names.
        token: String,
        /// What the join asked for.
        asked: String,
    },
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A token letting `user` join `session` for `ttl` from `now`.
pub fn mint(
    secret: &[u8],
    session: &str,
    user: &str,
    ttl: Duration,
    now: SystemTime,
) -> Result<String, TokenError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(TokenError::WeakSecret);
    }
    let claims = JoinClaims {
        session: session.to_owned(),
        sub: user.to_owned(),
        iat: secs(now),
        exp: secs(now + ttl),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| TokenError::Malformed(e.to_string()))
}

/// The claims of a token signed with `secret` that has not expired (by the
/// system clock, with [`LEEWAY`]), for exactly `session` and `user`.
pub fn verify(
    secret: &[u8],
    token: &str,
    session: &str,
    user: &str,
) -> Result<JoinClaims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = LEEWAY.as_secs();
    v.set_required_spec_claims(&["exp", "sub"]);
    let data = jsonwebtoken::decode::<JoinClaims>(token, &DecodingKey::from_secret(secret), &v)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            }
        })?;
    let c = data.claims;
    let mismatch = |what, token: &str, asked: &str| TokenError::Mismatch {
        what,
        token: token.to_owned(),
        asked: asked.to_owned(),
    };
    if c.session != session {
        return Err(mismatch("session", &c.session, session));
    }
    if c.sub != user {
        return Err(mismatch("user", &c.sub, user));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123";

    #[test]
    fn a_minted_token_lets_in_exactly_its_session_and_user() {
        let t = mint(
            SECRET,
            "standup",
            "alice",
            Duration::from_secs(3600),
            SystemTime::now(),
        )
        .unwrap();
        let c = verify(SECRET, &t, "standup", "alice").unwrap();
        assert_eq!((c.session.as_str(), c.sub.as_str()), ("standup", "alice"));
        assert_eq!(c.exp - c.iat, 3600);
        assert!(matches!(
            verify(SECRET, &t, "standup", "mallory"),
            Err(TokenError::Mismatch { what: "user", .. })
        ));
        assert!(matches!(
            verify(SECRET, &t, "other", "alice"),
            Err(TokenError::Mismatch {
                what: "session",
                ..
            })
        ));
        assert_eq!(
            verify(b"another secret, long enough", &t, "standup", "alice"),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn expired_forged_and_weak_tokens_are_refused() {
        let old = SystemTime::now() - Duration::from_secs(7200);
        let t = mint(SECRET, "s", "u", Duration::from_secs(3600), old).unwrap();
        assert_eq!(verify(SECRET, &t, "s", "u"), Err(TokenError::Expired));
        assert_eq!(
            mint(
                b"short",
                "s",
                "u",
                Duration::from_secs(1),
                SystemTime::now()
            ),
            Err(TokenError::WeakSecret)
        );
        for junk in ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0."] {
            assert!(
                matches!(
                    verify(SECRET, junk, "s", "u"),
                    Err(TokenError::Malformed(_))
                ),
                "{junk}"
            );
        }
    }
}
