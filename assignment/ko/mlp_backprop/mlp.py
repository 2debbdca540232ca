"""은닉층이 하나인 ReLU 다층 퍼셉트론(MLP)과 미니배치 SGD 학습을 numpy만으로 구현합니다.

여러분이 고쳐서 제출하는 모듈이 바로 이 파일입니다. ``NotImplementedError``를
발생시키는 함수 본문을 모두 채우세요. 함수 이름과 시그니처(인자 목록)는 그대로
두어야 합니다. 자동 채점기(autograder)가 정확히 이 모양으로 호출합니다.

모든 독스트링(docstring)에서 쓰는 기호:

    N  (미니)배치 안의 샘플 수
    D  입력 특징(feature) 수 (MNIST는 28 x 28 픽셀이므로 784)
    H  은닉 뉴런 수 (``num_hid_neurons``)
    C  클래스 수 (``num_cls``, MNIST는 10)

신경망은

    hidden = ReLU(data @ W1 + b1)        (N, H)
    scores = hidden @ W2 + b2            (N, C)

이고, 손실(loss)은 N개 샘플의 소프트맥스 교차 엔트로피를 평균한 값입니다.
이 모듈이 돌려주는 기울기(gradient)는 모두 이 *평균* 손실의 기울기입니다.
즉 샘플별 기울기를 모두 더한 다음 미니배치 크기 ``batch_sz``로 정확히 한 번
나눈 값입니다.

``MLP.__init__``의 가중치 초기화(He 초깃값)는 주어져 있으므로 바꿀 필요가
없습니다.
"""
import numpy as np

__all__ = [
    "make_labels_onehot",
    "MLP",
    "SoftmaxCrossEntropy",
    "train_mlp_neuralnet",
    "predict",
]


def make_labels_onehot(labels, num_cls):
    """정수 클래스 레이블(label)을 원-핫(one-hot) 행으로 바꿉니다.

    Args:
        labels: 형상 (N,)인 int 배열, 값은 ``0 .. num_cls - 1``.
        num_cls: 클래스 수 C.

    Returns:
        형상 (N, C)인 float 배열. ``onehot[i, labels[i]] == 1.0``이고
        나머지는 모두 0입니다.
    """
    # 여기에 코드를 작성하세요
    raise NotImplementedError("make_labels_onehot: 아직 구현되지 않았습니다")


class MLP:
    """784-H-10 형태의 신경망: ``scores = ReLU(data @ W1 + b1) @ W2 + b2``.

    Attributes:
        params: 매개변수(parameter) 딕셔너리. ``forward``는 호출될 때마다
            여기서 값을 새로 꺼내 써야 합니다(호출하는 쪽이 배열을 새것으로
            바꾸거나 값을 제자리에서 조금 움직일 수 있습니다):
            ``'W1'`` (D, H), ``'b1'`` (H,), ``'W2'`` (H, C), ``'b2'`` (C,).
        data: 가장 최근 ``forward``의 입력, (N, D).
        hidden_layer_output: 가장 최근 ``forward``의 ReLU 출력(은닉층
            활성화 값), (N, H).
    """

    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        """매개변수를 만듭니다(주어진 코드: He 초깃값, 편향은 0).

        Args:
            num_in: D, 입력 특징 수.
            num_hid_neurons: H, 은닉 뉴런 수.
            num_cls: C, 클래스 수.
            seed: ``np.random.default_rng``의 시드(seed). None이면 매번 새로 뽑습니다.
        """
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.standard_normal((num_in, num_hid_neurons)) * np.sqrt(2.0 / num_in),
            "b1": np.zeros(num_hid_neurons),
            "W2": rng.standard_normal((num_hid_neurons, num_cls)) * np.sqrt(2.0 / num_hid_neurons),
            "b2": np.zeros(num_cls),
        }
        self.data = None
        self.hidden_layer_output = None

    def forward(self, data):
        """배치의 클래스 점수(scores)를 계산하고, backward에 필요한 값을 저장해 둡니다.

        Args:
            data: float 배열 (N, D). 수정하면 안 됩니다.

        Returns:
            scores: float 배열 (N, C), ``ReLU(data @ W1 + b1) @ W2 + b2``.

        Side effects:
            ``backward``에서 쓰도록 ``self.data`` (N, D)와
            ``self.hidden_layer_output`` (N, H)를 저장합니다.
        """
        # 여기에 코드를 작성하세요
        raise NotImplementedError("MLP.forward: 아직 구현되지 않았습니다")

    def backward(self, upstream_grad, batch_sz):
        """가장 최근 ``forward``의 신경망을 거슬러 역전파(backpropagation)합니다.

        Args:
            upstream_grad: float 배열 (N, C). 마지막 ``forward``의 점수에 대한
                *합계* 손실(샘플별 손실을 모두 더한 값)의 기울기, 즉 상류
                기울기(upstream gradient)입니다.
            batch_sz: 미니배치 크기. 합계 손실의 기울기를 이 값으로 정확히
                한 번 나누므로, 결과는 평균 손실의 기울기가 됩니다.

        Returns:
            ``params``와 같은 키, 같은 형상(shape)의 딕셔너리:
            ``'W1'`` (D, H), ``'b1'`` (H,), ``'W2'`` (H, C), ``'b2'`` (C,).
            ReLU는 입력이 양수였던 자리로만 기울기를 통과시킵니다(마스크).
        """
        # 여기에 코드를 작성하세요
        raise NotImplementedError("MLP.backward: 아직 구현되지 않았습니다")


class SoftmaxCrossEntropy:
    """모델의 점수 위에 얹는 소프트맥스(softmax) + 교차 엔트로피(cross-entropy) 손실.

    Attributes:
        model: 이 손실이 ``forward``/``backward``를 호출하는 ``MLP``.
        num_cls: C.
        probs: 가장 최근 ``forward``의 소프트맥스 확률, (N, C).
    """

    def __init__(self, model, num_cls=10):
        self.model = model
        self.num_cls = num_cls
        self.probs = None

    def forward(self, data, labels):
        """softmax(model.forward(data))의 교차 엔트로피를 배치에 대해 평균한 값.

        Args:
            data: float 배열 (N, D). ``self.model.forward``에 넘깁니다.
            labels: int 배열 (N,), 정답 클래스.

        Returns:
            float: ``-mean_i log softmax(scores)[i, labels[i]]``. 점수가 아주
            커도 유한한 값이어야 합니다(``exp(1000)``을 생각해 보세요).

        Side effects:
            ``self.probs`` (N, C)를 저장합니다.
        """
        # 여기에 코드를 작성하세요
        raise NotImplementedError("SoftmaxCrossEntropy.forward: 아직 구현되지 않았습니다")

    def compute_grad(self, labels, batch_sz):
        """가장 최근 ``forward``의 평균 손실에 대한 기울기.

        Args:
            labels: int 배열 (N,), ``forward``에 넘긴 레이블.
            batch_sz: 평균을 낼 때 쓰는 미니배치 크기 N.

        Returns:
            ``self.model.backward(probs - onehot(labels), batch_sz)``. 넘겨주는
            상류 기울기는 (N, C) 차이 그대로이며 아무것으로도 나누지 *않습니다*.
            평균(``batch_sz``로 나누기)은 ``backward``가 합니다.
        """
        # 여기에 코드를 작성하세요
        raise NotImplementedError("SoftmaxCrossEntropy.compute_grad: 아직 구현되지 않았습니다")


def _progress(iterable, total, desc, enabled):
    """tqdm이 설치되어 있으면 ``iterable``을 tqdm 진행 막대로 감쌉니다(주어진 코드)."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs,
                        seed=0, verbose=False):
    """``model``을 미니배치 SGD(확률적 경사 하강법)로 학습시킵니다.

    에폭(epoch)마다 N개 샘플의 순서를 새로 무작위로 섞고
    (``np.random.default_rng(seed)`` 사용), ``batch_sz``개씩 미니배치로 나누어
    모든 샘플을 정확히 한 번씩 봅니다(마지막 배치는 더 작을 수 있고, 그때는 그
    배치의 실제 크기를 씁니다). 미니배치마다 모든 매개변수를
    ``param -= lr * grad``로 제자리에서(in place) 갱신합니다.

    Args:
        model: ``MLP``.
        loss_fn: ``model``을 감싼 ``SoftmaxCrossEntropy``.
        data: float 배열 (N, D).
        labels: int 배열 (N,).
        lr: 학습률(learning rate).
        batch_sz: 미니배치 크기(배치마다 그 배치의 실제 크기를
            ``compute_grad``에 넘깁니다).
        num_epochs: 데이터 전체를 몇 번 훑을지(에폭 수).
        seed: 섞기에 쓰는 시드.
        verbose: 진행 막대를 보여 줄지(주어진 코드).

    Returns:
        history 딕셔너리: ``'loss'``는 반복(iteration, 미니배치 하나)마다 float
        하나씩인 리스트, ``'train_acc'``는 에폭마다 float 하나씩인 리스트(그
        에폭 동안 본 미니배치들에서의 정확도)입니다.
    """
    # 여기에 코드를 작성하세요
    raise NotImplementedError("train_mlp_neuralnet: 아직 구현되지 않았습니다")


def predict(model, data):
    """샘플마다 예측한 클래스.

    Args:
        model: ``MLP``.
        data: float 배열 (N, D).

    Returns:
        int 배열 (N,): ``model.forward(data)``의 행별 argmax.
    """
    # 여기에 코드를 작성하세요
    raise NotImplementedError("predict: 아직 구현되지 않았습니다")
