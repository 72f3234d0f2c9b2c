from tests.browser.clock import afternoon_in_new_york
from tests.browser.conftest import browser_type_launch_args

__all__ = ["afternoon_in_new_york", "browser_type_launch_args"]
