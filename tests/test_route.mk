test_route_DEPS := route
