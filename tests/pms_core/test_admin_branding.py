def test_the_admin_says_which_product_it_is(client):
    page = client.get("/admin/login/").content.decode()
    assert "Channel manager" in page and "Django administration" not in page
