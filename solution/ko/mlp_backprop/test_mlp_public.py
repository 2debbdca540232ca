"""공개 검사: 제출하기 전에 `pytest test_mlp_public.py`를 실행하세요.

채점기의 검사와 똑같은 검사를 작고 고정된 입력으로 실행합니다(실제 채점은
공개되지 않은 무작위 입력을 쓰고, 여러분의 신경망을 MNIST로 학습시키는 검사도
합니다). 실패 메시지마다 기대한 값과 가장 그럴듯한 원인을 알려 줍니다.
"""
from pathlib import Path

import pytest

from autograder import grade
from autograder.grading import select

MODULE = Path(__file__).with_name("mlp.py")


@pytest.fixture(scope="module")
def result():
    return grade(MODULE, suite="public")


@pytest.mark.parametrize("name", [c.name for c in select("public")])
def test_public_check(result, name):
    check = result[name]
    if not check.passed:
        # 한 줄로: 점수와 채점기의 메시지(pytest.ini 설정 덕분에 잘리지 않고 전부 보입니다)
        pytest.fail(f"{check.score:g}/{check.max_score:g}: {check.message}", pytrace=False)
