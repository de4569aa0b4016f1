//! HTML rendering with minijinja. Templates live in `templates/` and are
//! compiled into the binary; auto-escaping is on for every `.html` template.
//! Texts come from Fluent through the `t(key, **args)` function, which reads
//! the page's `lang` from the render context.

use std::sync::Arc;

use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::i18n::{I18n, Lang};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("help.html", include_str!("../templates/help.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("setup.html", include_str!("../templates/setup.html")),
    ("setup_done.html", include_str!("../templates/setup_done.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("forgot_sent.html", include_str!("../templates/forgot_sent.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("reset_done.html", include_str!("../templates/reset_done.html")),
    ("link_invalid.html", include_str!("../templates/link_invalid.html")),
    ("email_change.html", include_str!("../templates/email_change.html")),
    (
        "email_change_sent.html",
        include_str!("../templates/email_change_sent.html"),
    ),
    ("email_confirm.html", include_str!("../templates/email_confirm.html")),
    (
        "email_confirmed.html",
        include_str!("../templates/email_confirmed.html"),
    ),
    ("email_undo.html", include_str!("../templates/email_undo.html")),
    ("email_undone.html", include_str!("../templates/email_undone.html")),
    (
        "email_link_invalid.html",
        include_str!("../templates/email_link_invalid.html"),
    ),
    ("sessions.html", include_str!("../templates/sessions.html")),
    (
        "password_change.html",
        include_str!("../templates/password_change.html"),
    ),
    (
        "password_changed.html",
        include_str!("../templates/password_changed.html"),
    ),
];

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

fn to_fluent(value: &Value) -> FluentValue<'static> {
    if let Some(n) = value.as_i64() {
        FluentValue::from(n)
    } else {
        FluentValue::from(value.to_string())
    }
}

impl Templates {
    pub fn load(i18n: Arc<I18n>) -> Templates {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("the bundled templates parse");
        }
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::from_code))
                    .ok_or_else(|| Error::new(ErrorKind::UndefinedError, "the page has no lang"))?;
                let args: Vec<(&str, FluentValue<'_>)> = kwargs
                    .args()
                    .map(|name| Ok((name, to_fluent(&kwargs.get::<Value>(name)?))))
                    .collect::<Result<_, Error>>()?;
                kwargs.assert_all_used()?;
                Ok(i18n.text(lang, key, &args))
            },
        );
        Templates { env }
    }

    pub fn render(&self, name: &str, context: Value) -> Result<String, Error> {
        self.env.get_template(name)?.render(context)
    }
}
