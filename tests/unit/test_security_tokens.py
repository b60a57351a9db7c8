"""API tokens, the Authenticator over a real SQL identity store (SQLite), and the operator's
bootstrap token file."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from sluice.common.db import Database, sqlite_url
from sluice.common.errors import FailedPrecondition, InvalidInput, Unauthenticated
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.security import tokens
from sluice.control_plane.security.authenticator import RUN_ENDED, Authenticator
from sluice.control_plane.security.bootstrap import ADMIN_TOKEN_FILE, bootstrap_operator
from sluice.control_plane.security.model import (
    PolicyInput,
    PrincipalInput,
    PrincipalUpdate,
    TokenCredential,
)
from sluice.control_plane.security.policy import Decision, Effect, Statement, resource_name
from sluice.control_plane.security.schema import upgrade_schema
from sluice.control_plane.security.sql_identity import SqlIdentityStore
from tests.unit.test_jobs_support import FakeClock

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
OTHER = "210987654321"
TABLE = resource_name("catalog", ACCOUNT, "table/sales/orders")


class CountingStore(SqlIdentityStore):
    """The SQL store, counting the lookups authentication makes; `during_lookup` runs between
    reading a token and returning it (to stage a concurrent change)."""

    lookups = 0
    certificate_lookups = 0
    statement_lookups = 0
    during_lookup: object = None

    def lookup_token(self, token_id: str) -> TokenCredential | None:
        self.lookups += 1
        found = super().lookup_token(token_id)
        if callable(self.during_lookup):
            self.during_lookup()
        return found

    def principal_by_certificate(self, subject: str):  # type: ignore[no-untyped-def]
        self.certificate_lookups += 1
        return super().principal_by_certificate(subject)

    def statements_for(self, account, roles):  # type: ignore[no-untyped-def]
        self.statement_lookups += 1
        return super().statements_for(account, roles)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    db: Database
    store: CountingStore
    auth: Authenticator
    clock: FakeClock
    monotonic: Monotonic
    active_runs: set[str]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = Database(sqlite_url(tmp_path))
    upgrade_schema(db)
    clock = FakeClock()
    store = CountingStore(db, PageTokenCodec(b"tokens-unit-test-key"), clock=clock)
    monotonic = Monotonic()
    active: set[str] = set()
    auth = Authenticator(
        store,
        run_active=lambda run_id: run_id in active,
        cache_ttl_s=5.0,
        monotonic=monotonic,
        now=clock,
    )
    try:
        yield Setup(db, store, auth, clock, monotonic, active)
    finally:
        db.dispose()


def alice_token(s: Setup, **token: object) -> str:
    s.store.create_principal(ACCOUNT, PrincipalInput(name="alice", roles=("reader",)))
    return s.store.create_token(ACCOUNT, "alice", **token).token  # type: ignore[arg-type]


def refused(s: Setup, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        s.auth.authenticate(token)
    return caught.value.message


# The token format


def test_a_new_token_has_a_public_id_and_a_secret_of_which_only_the_hash_is_kept() -> None:
    made = tokens.new_token()
    assert made.text.startswith("slk_")
    parsed = tokens.parse_token(made.text)
    assert parsed.token_id == made.token_id
    assert len(made.token_id) == 16 and int(made.token_id, 16) >= 0
    assert len(parsed.secret) >= 43  # 32 random bytes, base64
    assert made.secret_sha256 != parsed.secret
    assert tokens.secret_matches(parsed.secret, made.secret_sha256)
    assert not tokens.secret_matches(parsed.secret + "x", made.secret_sha256)
    assert parsed.secret not in repr(made) and parsed.secret not in repr(parsed)
    assert tokens.new_token().text != made.text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Bearer slk_0123456789abcdef_" + "a" * 43,
        "slk_0123456789abcdef",
        "slk_0123456789ABCDEF_" + "a" * 43,
        "slk_0123456789abcde_" + "a" * 44,
        "slk_0123456789abcdef_" + "a" * 20,
        "slk_0123456789abcdef_" + "a" * 42 + "=",
        "xyz_0123456789abcdef_" + "a" * 43,
        "slk_0123456789abcdef_" + "a" * 43 + "\n",
    ],
)
def test_malformed_tokens_are_refused_without_saying_why(text: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        tokens.parse_token(text)
    assert caught.value.message == tokens.INVALID_TOKEN


def test_token_ids_are_checked() -> None:
    assert tokens.checked_token_id(" 0123456789ABCDEF ") == "0123456789abcdef"
    for bad in ("", "0123", "slk_0123456789abcdef_secret", "0123456789abcdeg"):
        with pytest.raises(InvalidInput):
            tokens.checked_token_id(bad)


def test_the_cache_key_is_a_hash_not_the_token() -> None:
    made = tokens.new_token()
    assert tokens.cache_key(made.text) != made.text
    assert tokens.parse_token(made.text).secret not in tokens.cache_key(made.text)


# Authentication


def test_a_valid_token_authenticates_as_its_principal(setup: Setup) -> None:
    principal = setup.auth.authenticate(alice_token(setup))
    assert (principal.name, principal.account, principal.roles) == ("alice", ACCOUNT, ("reader",))
    assert not principal.operator and not principal.run_id


def test_verified_tokens_are_cached_for_the_ttl(setup: Setup) -> None:
    token = alice_token(setup)
    for _ in range(5):
        setup.auth.authenticate(token)
    assert setup.store.lookups == 1
    setup.monotonic.now += 5.0
    setup.auth.authenticate(token)
    assert setup.store.lookups == 2


def test_forged_tokens_are_refused_with_one_message(setup: Setup) -> None:
    token = alice_token(setup)
    parsed = tokens.parse_token(token)
    wrong_secret = f"slk_{parsed.token_id}_{tokens.new_token().text[21:]}"
    unknown_id = f"slk_{'f' * 16}_{parsed.secret}"
    messages = {refused(setup, t) for t in (wrong_secret, unknown_id, token[:-1], "nonsense")}
    assert messages == {tokens.INVALID_TOKEN}
    # A forged token is never remembered as good.
    assert refused(setup, wrong_secret) == tokens.INVALID_TOKEN
    setup.auth.authenticate(token)


def test_an_expired_token_is_refused_even_while_cached(setup: Setup) -> None:
    token = alice_token(setup, expires_on=setup.clock() + timedelta(seconds=60))
    setup.auth.authenticate(token)
    setup.clock.advance(59)
    setup.auth.authenticate(token)
    setup.clock.advance(1)
    assert refused(setup, token) == tokens.INVALID_TOKEN
    setup.auth.invalidate()
    assert refused(setup, token) == tokens.INVALID_TOKEN


def test_revocation_takes_effect_on_the_next_call(setup: Setup) -> None:
    token = alice_token(setup)
    setup.auth.authenticate(token)
    setup.store.revoke_token(ACCOUNT, tokens.parse_token(token).token_id)
    assert refused(setup, token) == tokens.INVALID_TOKEN


def test_another_servers_revocation_takes_effect_within_the_ttl(setup: Setup) -> None:
    token = alice_token(setup)
    setup.auth.authenticate(token)
    other_server = SqlIdentityStore(setup.db, PageTokenCodec(b"tokens-unit-test-key"))
    other_server.revoke_token(ACCOUNT, tokens.parse_token(token).token_id)
    setup.auth.authenticate(token)
    setup.monotonic.now += 5.0
    assert refused(setup, token) == tokens.INVALID_TOKEN


def test_deleting_the_principal_refuses_its_tokens(setup: Setup) -> None:
    token = alice_token(setup)
    setup.auth.authenticate(token)
    setup.store.delete_principal(ACCOUNT, "alice")
    assert refused(setup, token) == tokens.INVALID_TOKEN


def test_a_change_during_verification_is_not_cached_over(setup: Setup) -> None:
    token = alice_token(setup)
    # A revocation commits (and clears the cache) between this call's read and its cache write.
    setup.store.during_lookup = lambda: setup.auth.invalidate()
    setup.auth.authenticate(token)
    setup.store.during_lookup = None
    setup.auth.authenticate(token)
    assert setup.store.lookups == 2


def test_roles_changed_take_effect_on_the_next_call(setup: Setup) -> None:
    token = alice_token(setup)
    assert setup.auth.authenticate(token).roles == ("reader",)
    setup.store.update_principal(ACCOUNT, "alice", PrincipalUpdate(roles=("writer",)))
    assert setup.auth.authenticate(token).roles == ("writer",)


def test_run_tokens_stop_working_when_the_run_ends(setup: Setup) -> None:
    expires = setup.clock() + timedelta(hours=1)
    token = setup.store.issue_run_token(ACCOUNT, "jr_1", "arn:sluice:role/etl", expires)
    setup.active_runs.add("jr_1")
    principal = setup.auth.authenticate(token)
    assert (principal.name, principal.run_id, principal.roles) == (
        "run/jr_1",
        "jr_1",
        ("arn:sluice:role/etl",),
    )
    setup.active_runs.discard("jr_1")
    assert refused(setup, token) == RUN_ENDED
    assert "run has ended" in RUN_ENDED
    setup.active_runs.add("jr_1")
    setup.auth.authenticate(token)
    setup.clock.advance(3600)
    assert refused(setup, token) == tokens.INVALID_TOKEN


def test_the_cache_is_bounded(setup: Setup) -> None:
    auth = Authenticator(
        setup.store, run_active=lambda _: True, max_cache_entries=2, monotonic=setup.monotonic
    )
    setup.store.create_principal(ACCOUNT, PrincipalInput(name="bob"))
    made = [setup.store.create_token(ACCOUNT, "bob").token for _ in range(3)]
    for token in made:
        auth.authenticate(token)
    before = setup.store.lookups
    auth.authenticate(made[2])
    auth.authenticate(made[1])
    assert setup.store.lookups == before
    auth.authenticate(made[0])
    assert setup.store.lookups == before + 1


def test_authentication_is_safe_from_many_threads(setup: Setup) -> None:
    token = alice_token(setup)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(50):
                assert setup.auth.authenticate(token).name == "alice"
                if i % 10 == 0:
                    setup.auth.invalidate()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_client_certificates_authenticate_by_subject(setup: Setup) -> None:
    setup.store.create_principal(
        ACCOUNT, PrincipalInput(name="svc", roles=("etl",), certificate_subject="svc.example")
    )
    assert setup.auth.authenticate_certificate("svc.example").name == "svc"
    assert setup.auth.authenticate_certificate("svc.example").name == "svc"
    assert setup.store.certificate_lookups == 1
    for subject in ("other.example", ""):
        with pytest.raises(Unauthenticated):
            setup.auth.authenticate_certificate(subject)
    setup.store.update_principal(ACCOUNT, "svc", PrincipalUpdate(certificate_subject=""))
    with pytest.raises(Unauthenticated):
        setup.auth.authenticate_certificate("svc.example")


# Authorisation


def test_policies_decide_and_are_cached_until_they_change(setup: Setup) -> None:
    principal = setup.auth.authenticate(alice_token(setup))
    assert setup.auth.decide(principal, "glue:GetTable", TABLE) is Decision.IMPLICIT_DENY
    setup.store.put_policy(
        ACCOUNT,
        PolicyInput(
            name="readers",
            roles=("reader",),
            statements=(Statement(Effect.ALLOW, ("glue:Get*",), ("table/sales/*",)),),
        ),
    )
    assert setup.auth.is_allowed(principal, "glue:GetTable", TABLE)
    assert not setup.auth.is_allowed(principal, "glue:DeleteTable", TABLE)
    lookups = setup.store.statement_lookups
    assert setup.auth.statements_for(principal)
    assert setup.store.statement_lookups == lookups
    setup.store.put_policy(
        ACCOUNT,
        PolicyInput(
            name="no-deletes",
            roles=("reader",),
            statements=(Statement(Effect.DENY, ("glue:GetTable",), ("*",)),),
        ),
    )
    assert setup.auth.decide(principal, "glue:GetTable", TABLE) is Decision.EXPLICIT_DENY
    setup.store.delete_policy(ACCOUNT, "no-deletes")
    assert setup.auth.is_allowed(principal, "glue:GetTable", TABLE)


def test_admins_own_their_account_and_operators_every_account(setup: Setup, tmp_path: Path) -> None:
    setup.store.create_principal(ACCOUNT, PrincipalInput(name="root", roles=("admin",)))
    admin = setup.auth.authenticate(setup.store.create_token(ACCOUNT, "root").token)
    other_table = resource_name("catalog", OTHER, "table/sales/orders")
    assert setup.auth.decide(admin, "iam:DeletePolicy", TABLE) is Decision.ADMIN
    assert setup.auth.decide(admin, "glue:GetTable", other_table) is Decision.OTHER_ACCOUNT
    assert setup.store.statement_lookups == 0
    path = bootstrap_operator(setup.store, tmp_path, ACCOUNT)
    assert path is not None
    operator = setup.auth.authenticate(path.read_text().strip())
    assert setup.auth.decide(operator, "glue:GetTable", other_table) is Decision.ADMIN


# The operator's first token


def test_bootstrap_writes_a_private_token_file_once(setup: Setup, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    old_umask = os.umask(0)
    try:
        path = bootstrap_operator(setup.store, data_dir, ACCOUNT)
    finally:
        os.umask(old_umask)
    assert path == data_dir / ADMIN_TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.endswith("\n")
    operator = setup.auth.authenticate(text.strip())
    assert (operator.name, operator.account, operator.operator, operator.roles) == (
        "admin",
        ACCOUNT,
        True,
        ("admin",),
    )
    assert bootstrap_operator(setup.store, data_dir, ACCOUNT) is None
    assert path.read_text() == text
    assert setup.store.has_operator()


def test_bootstrap_replaces_a_stale_token_file(setup: Setup, tmp_path: Path) -> None:
    stale = tmp_path / ADMIN_TOKEN_FILE
    stale.write_text("slk_from_an_old_database\n")
    stale.chmod(0o644)
    path = bootstrap_operator(setup.store, tmp_path, ACCOUNT)
    assert path == stale
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert setup.auth.authenticate(path.read_text().strip()).operator


def test_bootstrap_refuses_a_non_operator_admin_and_leaves_no_file(
    setup: Setup, tmp_path: Path
) -> None:
    setup.store.create_principal(ACCOUNT, PrincipalInput(name="admin", roles=("admin",)))
    with pytest.raises(FailedPrecondition):
        bootstrap_operator(setup.store, tmp_path, ACCOUNT)
    assert not (tmp_path / ADMIN_TOKEN_FILE).exists()
    assert not setup.store.has_operator()
