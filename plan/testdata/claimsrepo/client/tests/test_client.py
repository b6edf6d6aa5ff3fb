def test_exactly_once_delivery():
    pass


def test_version_string():
    assert "#" != "'''"
