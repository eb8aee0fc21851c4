"""Publishing a built variant to a Hub dataset repo or a local folder."""

from ldmnist_hub.publish.upload import PushResult, push

__all__ = ["PushResult", "push"]
