"""wslearn.claims: the claims rules of a token, checked with time passed in."""

from __future__ import annotations

from typing import Any

import pytest

from wslearn.claims import HMAC_MIN_KEY_BYTES, Claims, TokenProblem, check_claims, refusal
from wslearn.exceptions import TokenError

NOW = 1_700_000_000.0


def payload(**claims: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "alice", "iat": NOW - 10, "exp": NOW + 900}
    base.update(claims)
    return {key: value for key, value in base.items() if value is not DROP}


DROP = object()


def problem(body: dict[str, Any], **options: Any) -> str:
    with pytest.raises(TokenError) as caught:
        check_claims(body, **{"now": NOW, **options})
    return caught.value.reason


def test_a_valid_payload_gives_its_subject_and_times() -> None:
    claims = check_claims(payload(), now=NOW)
    assert claims == Claims("alice", NOW + 900, NOW - 10)
    assert claims.payload["sub"] == "alice"


def test_exp_and_sub_are_both_required() -> None:
    assert problem(payload(exp=DROP)) == TokenProblem.MISSING_CLAIM
    assert problem(payload(sub=DROP)) == TokenProblem.MISSING_CLAIM


@pytest.mark.parametrize("exp", ["1700000900", None, True, [1], {"at": 1}])
def test_an_exp_that_is_not_a_number_is_an_invalid_claim(exp: Any) -> None:
    assert problem(payload(exp=exp)) == TokenProblem.INVALID_CLAIM


@pytest.mark.parametrize("sub", ["", 42, None, ["alice"]])
def test_a_sub_that_is_not_a_non_empty_string_is_an_invalid_claim(sub: Any) -> None:
    assert problem(payload(sub=sub)) == TokenProblem.INVALID_CLAIM


def test_a_token_counts_until_exp_and_not_at_exp() -> None:
    assert check_claims(payload(exp=NOW + 1), now=NOW).subject == "alice"
    assert problem(payload(exp=NOW)) == TokenProblem.EXPIRED
    assert problem(payload(exp=NOW - 1)) == TokenProblem.EXPIRED


def test_the_leeway_forgives_a_few_seconds_of_clock_difference_and_no_more() -> None:
    assert check_claims(payload(exp=NOW - 4), now=NOW, leeway=5).subject == "alice"
    assert problem(payload(exp=NOW - 5), leeway=5) == TokenProblem.EXPIRED


def test_a_fractional_exp_is_a_number_of_seconds_too() -> None:
    assert check_claims(payload(exp=NOW + 0.5), now=NOW).expires_at == NOW + 0.5
    assert problem(payload(exp=NOW + 0.5), now=NOW + 0.5) == TokenProblem.EXPIRED


def test_nbf_in_the_future_means_not_yet_valid() -> None:
    assert problem(payload(nbf=NOW + 60)) == TokenProblem.NOT_YET_VALID
    assert check_claims(payload(nbf=NOW + 3), now=NOW, leeway=5).subject == "alice"
    assert problem(payload(nbf="soon")) == TokenProblem.INVALID_CLAIM


def test_a_token_issued_in_the_future_is_not_yet_valid() -> None:
    assert problem(payload(iat=NOW + 60)) == TokenProblem.NOT_YET_VALID
    assert check_claims(payload(iat=DROP), now=NOW).issued_at is None


def test_an_audience_must_be_named_by_the_token() -> None:
    ok = check_claims(payload(aud="chat"), now=NOW, audience="chat")
    assert ok.audience == ("chat",)
    listed = check_claims(payload(aud=["admin", "chat"]), now=NOW, audience="chat")
    assert listed.audience == ("admin", "chat")
    assert problem(payload(aud="admin"), audience="chat") == TokenProblem.WRONG_AUDIENCE
    assert problem(payload(), audience="chat") == TokenProblem.WRONG_AUDIENCE
    assert problem(payload(aud=[1]), audience="chat") == TokenProblem.INVALID_CLAIM


def test_a_token_with_an_audience_is_refused_by_a_verifier_without_one() -> None:
    assert problem(payload(aud="billing")) == TokenProblem.WRONG_AUDIENCE


def test_an_issuer_must_match_when_the_verifier_has_one() -> None:
    assert check_claims(payload(iss="login"), now=NOW, issuer="login").issuer == "login"
    assert problem(payload(iss="evil"), issuer="login") == TokenProblem.WRONG_ISSUER
    assert problem(payload(), issuer="login") == TokenProblem.WRONG_ISSUER
    assert problem(payload(iss=7)) == TokenProblem.INVALID_CLAIM
    assert check_claims(payload(iss="anyone"), now=NOW).issuer == "anyone"


def test_a_refusal_explains_itself_and_carries_its_reason_class() -> None:
    error = refusal(TokenProblem.MISSING_CLAIM, "'exp' is required")
    assert error.reason == "missing claim"
    assert error.message == "the token lacks a required claim ('exp' is required)"
    assert str(refusal(TokenProblem.EXPIRED)) == (
        "token refused (expired): the token has expired: get a fresh one"
    )


def test_every_problem_has_an_explanation() -> None:
    for each in TokenProblem:
        assert refusal(each).message, each


def test_an_hmac_secret_is_at_least_as_long_as_its_hash() -> None:
    assert HMAC_MIN_KEY_BYTES == {"HS256": 32, "HS384": 48, "HS512": 64}
