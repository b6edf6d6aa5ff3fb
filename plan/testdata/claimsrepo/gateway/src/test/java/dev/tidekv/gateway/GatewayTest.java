package dev.tidekv.gateway;

import org.junit.jupiter.api.Test;

class GatewayTest {
    @Test
    void rejectsRequestsFromUnauthorizedTenants() {}

    @Test
    void rendersStatusPage() {}
}
