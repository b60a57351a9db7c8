"""The SQL identity store: principals, tokens and policies on SQLite or PostgreSQL alike."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sluice.common.db import Database
from sluice.common.errors import AlreadyExists, EntityNotFound, FailedPrecondition, InvalidInput
from sluice.common.paging import Page, PageRequest, PageTokenCodec
from sluice.common.secrets import SecretBox
from sluice.control_plane.security import checks
from sluice.control_plane.security.access_keys import (
    AccessKeyInfo,
    IssuedAccessKey,
    NewAccessKey,
    checked_access_key_id,
    new_access_key,
)
from sluice.control_plane.security.identity_store import IdentityStore
from sluice.control_plane.security.model import (
    IssuedToken,
    Policy,
    PolicyInput,
    PrincipalInput,
    PrincipalRecord,
    PrincipalUpdate,
    TokenCredential,
    TokenInfo,
    run_principal_name,
)
from sluice.control_plane.security.policy import Effect, Statement, checked_statements
from sluice.control_plane.security.rows import (
    ACCESS_KEYS,
    POLICIES,
    POLICY_ROLES,
    PRINCIPALS,
    TOKENS,
)
from sluice.control_plane.security.tokens import NewToken, checked_token_id, new_token


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlIdentityStore(IdentityStore):
    """IdentityStore over a common.db.Database whose schema sluice.control_plane.security.schema has
    upgraded.

    Args:
        db: The database.
        page_tokens: Signs and checks the next_tokens of list calls.
        clock: The current time (tests pass their own).
        secrets: Encrypts the secrets of access keys at rest; without it access keys cannot be
            created (FailedPrecondition).
    """

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        *,
        clock: Callable[[], datetime] = utc_now,
        secrets: SecretBox | None = None,
    ) -> None:
        super().__init__()
        self._db = db
        self._tokens = page_tokens
        self._clock = clock
        self._secrets = secrets
        # Authentication's one query: a token and its principal.
        self._lookup = select(TOKENS, *_prefixed(PRINCIPALS.c)).join(
            PRINCIPALS, PRINCIPALS.c.id == TOKENS.c.principal_id
        )

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # Principals

    def create_principal(self, account: str, principal_input: PrincipalInput) -> PrincipalRecord:
        acc = checks.account(account)
        values = _new_principal(principal_input)
        with self._db.write() as conn:
            record = self._insert_principal(conn, acc, values)
        self._changed()
        return record

    def create_principal_with_token(
        self,
        account: str,
        principal_input: PrincipalInput,
        *,
        token_description: str,
        expires_on: datetime | None,
        token: NewToken | None = None,
    ) -> IssuedToken:
        acc = checks.account(account)
        values = _new_principal(principal_input)
        description = checks.description(token_description)
        expires = self._future(expires_on)
        with self._db.write() as conn:
            record = self._insert_principal(conn, acc, values)
            issued = self._insert_token(conn, record, description, expires, token)
        self._changed()
        return issued

    def _insert_principal(
        self, conn: Connection, account: str, values: dict[str, Any]
    ) -> PrincipalRecord:
        name = values["name"]
        found = conn.execute(
            select(PRINCIPALS.c.id).where(
                PRINCIPALS.c.account == account, PRINCIPALS.c.name == name
            )
        ).first()
        if found is not None:
            raise AlreadyExists(f"Principal {name} already exists")
        self._check_subject_free(conn, values["certificate_subject"], principal_id=None)
        now = self._now()
        conn.execute(
            insert(PRINCIPALS).values(
                id=uuid.uuid4().hex,
                account=account,
                created_on=now,
                last_modified_on=now,
                **values,
            )
        )
        return principal_from_row(_principal_row(conn, account, name))

    @staticmethod
    def _check_subject_free(
        conn: Connection, subject: str | None, principal_id: str | None
    ) -> None:
        if subject is None:
            return
        holder = conn.execute(
            select(PRINCIPALS.c.id).where(PRINCIPALS.c.certificate_subject == subject)
        ).scalar()
        if holder is not None and holder != principal_id:
            # Which principal (or account) holds it is not said: it may be another account's.
            raise AlreadyExists(f"certificate subject {subject!r} is already in use")

    def get_principal(self, account: str, name: str) -> PrincipalRecord:
        acc = checks.account(account)
        principal = checks.principal_name(name)
        with self._db.read() as conn:
            return principal_from_row(_principal_row(conn, acc, principal))

    def list_principals(self, account: str, page: PageRequest) -> Page[PrincipalRecord]:
        acc = checks.account(account)
        query = self._tokens.page_query(page, str, "ListPrincipals", acc)
        stmt = select(PRINCIPALS).where(PRINCIPALS.c.account == acc)
        if query.after is not None:
            stmt = stmt.where(PRINCIPALS.c.name > query.after)
        stmt = stmt.order_by(PRINCIPALS.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(items=tuple(principal_from_row(row) for row in kept), next_token=token)

    def update_principal(
        self, account: str, name: str, changes: PrincipalUpdate
    ) -> PrincipalRecord:
        acc = checks.account(account)
        principal = checks.principal_name(name)
        values: dict[str, Any] = {}
        if changes.roles is not None:
            values["roles"] = list(checks.roles(changes.roles))
        if changes.description is not None:
            values["description"] = checks.description(changes.description)
        if changes.certificate_subject is not None:
            values["certificate_subject"] = (
                checks.certificate_subject(changes.certificate_subject) or None
            )
        with self._db.write() as conn:
            row = _principal_row(conn, acc, principal, lock=True)
            if "certificate_subject" in values:
                self._check_subject_free(conn, values["certificate_subject"], row.id)
            if values:
                conn.execute(
                    update(PRINCIPALS)
                    .where(PRINCIPALS.c.id == row.id)
                    .values(last_modified_on=self._now(), **values)
                )
            record = principal_from_row(_principal_row(conn, acc, principal))
        self._changed()
        return record

    def delete_principal(self, account: str, name: str) -> None:
        acc = checks.account(account)
        principal = checks.principal_name(name)
        with self._db.write() as conn:
            row = _principal_row(conn, acc, principal, lock=True)
            if row.operator:
                operators = conn.execute(
                    select(PRINCIPALS.c.id).where(PRINCIPALS.c.operator.is_(True)).with_for_update()
                ).all()
                if len(operators) <= 1:
                    raise FailedPrecondition(
                        f"Principal {principal} is the last operator principal and cannot be "
                        "deleted"
                    )
            conn.execute(delete(TOKENS).where(TOKENS.c.principal_id == row.id))
            conn.execute(delete(ACCESS_KEYS).where(ACCESS_KEYS.c.principal_id == row.id))
            conn.execute(delete(PRINCIPALS).where(PRINCIPALS.c.id == row.id))
        self._changed()

    def has_operator(self) -> bool:
        with self._db.read() as conn:
            return bool(
                conn.execute(select(exists().where(PRINCIPALS.c.operator.is_(True)))).scalar()
            )

    def principal_by_certificate(self, subject: str) -> PrincipalRecord | None:
        if not subject:
            return None
        with self._db.read() as conn:
            row = conn.execute(
                select(PRINCIPALS).where(PRINCIPALS.c.certificate_subject == subject)
            ).first()
        return None if row is None else principal_from_row(row)

    # Tokens

    def create_token(
        self,
        account: str,
        principal_name: str,
        *,
        description: str = "",
        expires_on: datetime | None = None,
    ) -> IssuedToken:
        acc = checks.account(account)
        principal = checks.principal_name(principal_name)
        text = checks.description(description)
        expires = self._future(expires_on)
        with self._db.write() as conn:
            record = principal_from_row(_principal_row(conn, acc, principal))
            issued = self._insert_token(conn, record, text, expires)
        self._changed()
        return issued

    def _future(self, expires_on: datetime | None) -> datetime | None:
        if expires_on is None:
            return None
        if expires_on.tzinfo is None:
            raise InvalidInput("expires_on must have a time zone")
        if expires_on <= self._now():
            raise InvalidInput("expires_on must be in the future")
        return expires_on.astimezone(UTC)

    def _insert_token(
        self,
        conn: Connection,
        principal: PrincipalRecord,
        description: str,
        expires_on: datetime | None,
        token: NewToken | None = None,
    ) -> IssuedToken:
        made = token or new_token()
        now = self._now()
        conn.execute(
            insert(TOKENS).values(
                token_id=made.token_id,
                principal_id=principal.id,
                secret_sha256=made.secret_sha256,
                description=description,
                created_on=now,
                expires_on=expires_on,
                revoked_on=None,
            )
        )
        info = TokenInfo(
            token_id=made.token_id,
            account=principal.account,
            principal_name=principal.name,
            description=description,
            created_on=now,
            expires_on=expires_on,
        )
        return IssuedToken(token=made.text, info=info)

    def list_tokens(self, account: str, principal_name: str, page: PageRequest) -> Page[TokenInfo]:
        acc = checks.account(account)
        principal = checks.principal_name(principal_name)
        query = self._tokens.page_query(page, int, "ListTokens", acc, principal)
        with self._db.read() as conn:
            owner = _principal_row(conn, acc, principal)
            stmt = select(TOKENS).where(TOKENS.c.principal_id == owner.id)
            if query.after is not None:
                stmt = stmt.where(TOKENS.c.id > query.after)
            rows = conn.execute(stmt.order_by(TOKENS.c.id).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.id)
        items = tuple(_token_info(row, owner.account, owner.name) for row in kept)
        return Page(items=items, next_token=token)

    def revoke_token(self, account: str, token_id: str) -> TokenInfo:
        acc = checks.account(account)
        wanted = checked_token_id(token_id)
        stmt = (
            select(TOKENS, PRINCIPALS.c.name.label("principal_name"))
            .join(PRINCIPALS, PRINCIPALS.c.id == TOKENS.c.principal_id)
            .where(TOKENS.c.token_id == wanted, PRINCIPALS.c.account == acc)
        )
        with self._db.write() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                raise EntityNotFound(f"Token {wanted} not found")
            conn.execute(
                update(TOKENS)
                .where(TOKENS.c.id == row.id, TOKENS.c.revoked_on.is_(None))
                .values(revoked_on=self._now())
            )
            row = conn.execute(stmt).one()
        self._changed()
        return _token_info(row, acc, row.principal_name)

    def lookup_token(self, token_id: str) -> TokenCredential | None:
        with self._db.read() as conn:
            row = conn.execute(self._lookup.where(TOKENS.c.token_id == token_id)).first()
        if row is None:
            return None
        principal = _principal_from_prefixed(row)
        return TokenCredential(
            secret_sha256=row.secret_sha256,
            info=_token_info(row, principal.account, principal.name),
            principal=principal,
        )

    def issue_run_token(self, account: str, run_id: str, role: str, expires_on: datetime) -> str:
        acc = checks.account(account)
        name = run_principal_name(checks.run_id(run_id))
        roles = list(checks.roles([role]))
        if not roles:
            raise InvalidInput("a run's role must not be empty")
        expires = self._future(expires_on)
        now = self._now()
        dialect: Any = postgresql if self._db.dialect == "postgresql" else sqlite
        # Insert-or-reuse in one statement: two first requests for a run must not collide.
        upsert = (
            dialect.insert(PRINCIPALS)
            .values(
                id=uuid.uuid4().hex,
                account=acc,
                name=name,
                roles=roles,
                description=f"Job run {run_id}",
                operator=False,
                run_id=run_id,
                certificate_subject=None,
                created_on=now,
                last_modified_on=now,
            )
            .on_conflict_do_update(
                index_elements=[PRINCIPALS.c.account, PRINCIPALS.c.name],
                set_={"roles": roles, "last_modified_on": now},
            )
        )
        with self._db.write() as conn:
            conn.execute(upsert)
            record = principal_from_row(_principal_row(conn, acc, name))
            if record.run_id != run_id:
                raise InvalidInput(f"Principal {name} is not the principal of run {run_id}")
            issued = self._insert_token(conn, record, f"Job run {run_id}", expires)
        self._changed()
        return issued.token

    def purge_run_principals(self, expired_before: datetime) -> int:
        cutoff = expired_before.astimezone(UTC)
        usable = exists().where(
            TOKENS.c.principal_id == PRINCIPALS.c.id,
            TOKENS.c.revoked_on.is_(None),
            (TOKENS.c.expires_on.is_(None)) | (TOKENS.c.expires_on > cutoff),
        )
        with self._db.write() as conn:
            ids = (
                conn.execute(select(PRINCIPALS.c.id).where(PRINCIPALS.c.run_id != "", ~usable))
                .scalars()
                .all()
            )
            if ids:
                conn.execute(delete(TOKENS).where(TOKENS.c.principal_id.in_(ids)))
                conn.execute(delete(PRINCIPALS).where(PRINCIPALS.c.id.in_(ids)))
        if ids:
            self._changed()
        return len(ids)

    # Access keys

    def create_access_key(
        self,
        account: str,
        principal_name: str,
        *,
        description: str = "",
        key: NewAccessKey | None = None,
    ) -> IssuedAccessKey:
        if self._secrets is None:
            raise FailedPrecondition("this server has no secret key to keep access keys with")
        acc = checks.account(account)
        principal = checks.principal_name(principal_name)
        text = checks.description(description)
        made = key or new_access_key()
        now = self._now()
        with self._db.write() as conn:
            owner = _principal_row(conn, acc, principal)
            taken = conn.execute(
                select(ACCESS_KEYS.c.id).where(ACCESS_KEYS.c.access_key_id == made.access_key_id)
            ).first()
            if taken is not None:
                raise AlreadyExists(f"Access key {made.access_key_id} already exists")
            conn.execute(
                insert(ACCESS_KEYS).values(
                    access_key_id=made.access_key_id,
                    principal_id=owner.id,
                    secret_encrypted=self._secrets.encrypt(made.secret_access_key),
                    description=text,
                    created_on=now,
                )
            )
        self._changed()
        info = AccessKeyInfo(
            access_key_id=made.access_key_id,
            account=acc,
            principal_name=owner.name,
            description=text,
            created_on=now,
        )
        return IssuedAccessKey(secret_access_key=made.secret_access_key, info=info)

    def list_access_keys(
        self, account: str, principal_name: str, page: PageRequest
    ) -> Page[AccessKeyInfo]:
        acc = checks.account(account)
        principal = checks.principal_name(principal_name)
        query = self._tokens.page_query(page, int, "ListAccessKeys", acc, principal)
        with self._db.read() as conn:
            owner = _principal_row(conn, acc, principal)
            stmt = select(ACCESS_KEYS).where(ACCESS_KEYS.c.principal_id == owner.id)
            if query.after is not None:
                stmt = stmt.where(ACCESS_KEYS.c.id > query.after)
            rows = conn.execute(stmt.order_by(ACCESS_KEYS.c.id).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.id)
        items = tuple(_access_key_info(row, owner.account, owner.name) for row in kept)
        return Page(items=items, next_token=token)

    def delete_access_key(self, account: str, access_key_id: str) -> AccessKeyInfo:
        acc = checks.account(account)
        wanted = checked_access_key_id(access_key_id)
        stmt = (
            select(ACCESS_KEYS, PRINCIPALS.c.name.label("principal_name"))
            .join(PRINCIPALS, PRINCIPALS.c.id == ACCESS_KEYS.c.principal_id)
            .where(ACCESS_KEYS.c.access_key_id == wanted, PRINCIPALS.c.account == acc)
        )
        with self._db.write() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                raise EntityNotFound(f"Access key {wanted} not found")
            conn.execute(delete(ACCESS_KEYS).where(ACCESS_KEYS.c.id == row.id))
        self._changed()
        return _access_key_info(row, acc, row.principal_name)

    def lookup_access_key(self, access_key_id: str) -> tuple[str, PrincipalRecord] | None:
        if self._secrets is None:
            return None
        stmt = select(ACCESS_KEYS, *_prefixed(PRINCIPALS.c)).join(
            PRINCIPALS, PRINCIPALS.c.id == ACCESS_KEYS.c.principal_id
        )
        with self._db.read() as conn:
            row = conn.execute(stmt.where(ACCESS_KEYS.c.access_key_id == access_key_id)).first()
        if row is None:
            return None
        return self._secrets.decrypt(row.secret_encrypted), _principal_from_prefixed(row)

    # Policies

    def put_policy(self, account: str, policy_input: PolicyInput) -> Policy:
        acc = checks.account(account)
        name = checks.policy_name(policy_input.name)
        roles = checks.roles(policy_input.roles)
        description = checks.description(policy_input.description)
        statements = checked_statements(policy_input.statements)
        now = self._now()
        dialect: Any = postgresql if self._db.dialect == "postgresql" else sqlite
        values = {
            "description": description,
            "roles": list(roles),
            "statements": [_statement_json(s) for s in statements],
            "last_modified_on": now,
        }
        # An upsert: two first puts of one name must not collide; created_on is kept.
        stmt = (
            dialect.insert(POLICIES)
            .values(account=acc, name=name, created_on=now, **values)
            .on_conflict_do_update(
                index_elements=[POLICIES.c.account, POLICIES.c.name], set_=values
            )
            .returning(POLICIES.c.id)
        )
        with self._db.write() as conn:
            policy_id = conn.execute(stmt).scalar_one()
            conn.execute(delete(POLICY_ROLES).where(POLICY_ROLES.c.policy_id == policy_id))
            if roles:
                conn.execute(
                    insert(POLICY_ROLES),
                    [{"policy_id": policy_id, "role_key": _role_key(r), "role": r} for r in roles],
                )
            policy = policy_from_row(_policy_row(conn, acc, name))
        self._changed()
        return policy

    def get_policy(self, account: str, name: str) -> Policy:
        acc = checks.account(account)
        policy = checks.policy_name(name)
        with self._db.read() as conn:
            return policy_from_row(_policy_row(conn, acc, policy))

    def list_policies(
        self, account: str, page: PageRequest, *, role: str | None = None
    ) -> Page[Policy]:
        acc = checks.account(account)
        query = self._tokens.page_query(page, str, "ListPolicies", acc, role)
        stmt = select(POLICIES).where(POLICIES.c.account == acc)
        if role is not None:
            stmt = stmt.where(
                POLICIES.c.id.in_(
                    select(POLICY_ROLES.c.policy_id).where(
                        POLICY_ROLES.c.role_key == _role_key(role)
                    )
                )
            )
        if query.after is not None:
            stmt = stmt.where(POLICIES.c.name > query.after)
        stmt = stmt.order_by(POLICIES.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(items=tuple(policy_from_row(row) for row in kept), next_token=token)

    def delete_policy(self, account: str, name: str) -> None:
        acc = checks.account(account)
        policy = checks.policy_name(name)
        with self._db.write() as conn:
            row = _policy_row(conn, acc, policy)
            conn.execute(delete(POLICY_ROLES).where(POLICY_ROLES.c.policy_id == row.id))
            conn.execute(delete(POLICIES).where(POLICIES.c.id == row.id))
        self._changed()

    def statements_for(self, account: str, roles: Collection[str]) -> list[Statement]:
        if not roles:
            return []
        keys = sorted({_role_key(role) for role in roles})
        stmt = (
            select(POLICIES.c.statements)
            .where(
                POLICIES.c.account == account,
                POLICIES.c.id.in_(
                    select(POLICY_ROLES.c.policy_id).where(POLICY_ROLES.c.role_key.in_(keys))
                ),
            )
            .order_by(POLICIES.c.name)
        )
        with self._db.read() as conn:
            documents = conn.execute(stmt).scalars().all()
        return [_statement(item) for document in documents for item in document]


# Rows to domain objects, and back


def _new_principal(principal_input: PrincipalInput) -> dict[str, Any]:
    """The columns of a principal to create, checked."""
    return {
        "name": checks.new_principal_name(principal_input.name),
        "roles": list(checks.roles(principal_input.roles)),
        "description": checks.description(principal_input.description),
        "operator": bool(principal_input.operator),
        "run_id": "",
        "certificate_subject": checks.certificate_subject(principal_input.certificate_subject)
        or None,
    }


def _principal_row(conn: Connection, account: str, name: str, *, lock: bool = False) -> Row:
    stmt = select(PRINCIPALS).where(PRINCIPALS.c.account == account, PRINCIPALS.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise EntityNotFound(f"Principal {name} not found")
    return row


def principal_from_row(row: Row) -> PrincipalRecord:
    return PrincipalRecord(
        id=row.id,
        account=row.account,
        name=row.name,
        roles=tuple(row.roles),
        description=row.description,
        operator=bool(row.operator),
        certificate_subject=row.certificate_subject or "",
        run_id=row.run_id,
        created_on=row.created_on,
        last_modified_on=row.last_modified_on,
    )


_P = "p_"


def _prefixed(columns: Any) -> list[Any]:
    """The principal's columns under names that do not clash with the token's."""
    return [column.label(_P + column.name) for column in columns]


def _principal_from_prefixed(row: Row) -> PrincipalRecord:
    data = row._mapping
    return PrincipalRecord(
        id=data[_P + "id"],
        account=data[_P + "account"],
        name=data[_P + "name"],
        roles=tuple(data[_P + "roles"]),
        description=data[_P + "description"],
        operator=bool(data[_P + "operator"]),
        certificate_subject=data[_P + "certificate_subject"] or "",
        run_id=data[_P + "run_id"],
        created_on=data[_P + "created_on"],
        last_modified_on=data[_P + "last_modified_on"],
    )


def _token_info(row: Row, account: str, principal_name: str) -> TokenInfo:
    return TokenInfo(
        token_id=row.token_id,
        account=account,
        principal_name=principal_name,
        description=row.description,
        created_on=row.created_on,
        expires_on=row.expires_on,
        revoked_on=row.revoked_on,
    )


def _access_key_info(row: Row, account: str, principal_name: str) -> AccessKeyInfo:
    return AccessKeyInfo(
        access_key_id=row.access_key_id,
        account=account,
        principal_name=principal_name,
        description=row.description,
        created_on=row.created_on,
    )


def _policy_row(conn: Connection, account: str, name: str) -> Row:
    row = conn.execute(
        select(POLICIES).where(POLICIES.c.account == account, POLICIES.c.name == name)
    ).first()
    if row is None:
        raise EntityNotFound(f"Policy {name} not found")
    return row


def policy_from_row(row: Row) -> Policy:
    return Policy(
        account=row.account,
        name=row.name,
        roles=tuple(row.roles),
        statements=tuple(_statement(item) for item in row.statements),
        description=row.description,
        created_on=row.created_on,
        last_modified_on=row.last_modified_on,
    )


def _statement_json(statement: Statement) -> dict[str, object]:
    return {
        "effect": str(statement.effect),
        "actions": list(statement.actions),
        "resources": list(statement.resources),
    }


def _statement(data: dict[str, Any]) -> Statement:
    return Statement(
        effect=Effect(data["effect"]),
        actions=tuple(data["actions"]),
        resources=tuple(data["resources"]),
    )


def _role_key(role: str) -> str:
    return hashlib.sha256(role.encode("utf-8")).hexdigest()
