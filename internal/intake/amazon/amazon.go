// Package amazon parses Amazon Selling Partner API (Orders v0) orders into
// canonical orders.
//
// SP-API splits an order over two calls, getOrder and getOrderItems, so
// the intake body joins them in one JSON object:
//
//	{"order": <order>, "items": <items>}
//
// where <order> is a getOrder response ({"payload": Order}), its payload,
// or a bare Order, and <items> is a getOrderItems response ({"payload":
// {"AmazonOrderId", "OrderItems"}}), its payload, or a bare OrderItems
// array. It is a pure function of the bytes: no HTTP, no storage, no
// clock.
//
// A getOrders response (payload.Orders) is refused: it has no items, and a
// Pending order in it has no price either, so every order made from it
// would have no lines. The poller fetches each order's items and sends one
// body per order. For the same reason a getOrderItems page that carries a
// NextToken is refused: the items are incomplete until every page is
// joined into one list.
//
// Mapping decisions:
//
//   - Amounts are Money{CurrencyCode, Amount}; Amount is converted exactly
//     with order.ParseAmount. The order's currency is OrderTotal's, or,
//     for a Pending order without OrderTotal, the first item price's.
//     Every Money used must be in that currency and exact in its minor
//     units: a GBP gift wrap on a JPY order, or "25.99" JPY, is an
//     EUNPROCESSABLE error naming the JSON path. Nothing is rounded or
//     converted. PointsGranted is not money paid and is ignored.
//   - ItemPrice is the line's price for the whole quantity, so UnitPrice
//     = ItemPrice ÷ QuantityOrdered; when that is not exact UnitPrice is
//     truncated and the line gets a line.unit_price_inexact warning, and
//     order.Check reports the line as not adding up. Discount is
//     PromotionDiscount, Tax is ItemTax, and the line's Total (Amazon
//     states none) is ItemPrice − PromotionDiscount + ItemTax.
//   - Subtotal is Σ ItemPrice; DiscountTotal is Σ PromotionDiscount +
//     ShippingDiscount + CODFeeDiscount; TaxTotal is Σ ItemTax +
//     ShippingTax + GiftWrapTax; ShippingTotal is Σ ShippingPrice plus the
//     gift-wrap prices and COD fees, because the canonical order has no fee
//     total (such an order gets a totals.fees_in_shipping warning). The
//     *DiscountTax amounts are not counted. Total is OrderTotal, the
//     channel's figure; when it is missing (Pending) Total is computed and
//     the order gets a totals.not_stated warning.
//   - An empty SellerSKU stays empty, with a line.sku_missing warning
//     naming the ASIN.
//   - Number is SellerOrderId, or AmazonOrderId when there is none. The
//     buyer's PurchaseOrderNumber becomes Terms.PONumber.
//   - Amazon folds payment and fulfilment into OrderStatus: Pending and
//     PendingAvailability give payment "pending", Canceled "voided", and
//     the others "authorized"; Unshipped and Pending give "unfulfilled",
//     PartiallyShipped "partial", Shipped and InvoiceUnconfirmed
//     "fulfilled", Canceled "cancelled", Unfulfillable "unfulfillable".
//   - PlacedAt is PurchaseDate and UpdatedAt is LastUpdateDate, in UTC.
package amazon

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// Parse converts an intake body {"order": …, "items": …} into one
// canonical order with Channel set to order.ChannelAmazon, Status and
// Source left empty, times in UTC, and Lines and Warnings never nil.
// Malformed JSON gives an EINVALID *ordergate.Error with the byte offset;
// a value of the wrong type, a missing AmazonOrderId, order or items, an
// unknown or mixed currency, an amount not exact in the currency's minor
// units, or an incomplete item list gives EUNPROCESSABLE with Fields
// naming each JSON path at fault. Parse never panics.
func Parse(data []byte) ([]order.Order, error) {
	switch channeljson.FirstByte(data) {
	case '{':
	case 0:
		return nil, &ordergate.Error{Code: ordergate.EINVALID, Message: "empty body: want {\"order\": …, \"items\": …}"}
	default:
		if err := channeljson.Valid(data); err != nil {
			return nil, err
		}
		return nil, &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want {\"order\": …, \"items\": …}",
			Fields: map[string]string{"$": "must be an object"}}
	}
	var fe channeljson.FieldErrors
	var o order.Order
	err := channeljson.Read(data, &fe, func(top channeljson.Value) {
		b := top.Object()
		if b.Has("payload") {
			fe.Add("order", "required: this looks like a bare SP-API response; send {\"order\": getOrder response, \"items\": getOrderItems response}")
			return
		}
		orderDoc, itemsDoc := b.Value("order"), b.Value("items")
		if orderDoc.IsNull() {
			fe.Add("order", "required")
		}
		if itemsDoc.IsNull() {
			fe.Add("items", "required")
		}
		if orderDoc.IsNull() || itemsDoc.IsNull() {
			return
		}
		if orderDoc.Kind() != "object" {
			fe.Add("order", "must be an object")
			return
		}
		src := orderDoc.Object()
		if p := src.Object("payload"); p.Present() {
			src = p
		}
		if src.Has("Orders") {
			src.Add("Orders", "a getOrders list is not accepted: send one order with its items")
			return
		}

		var items []channeljson.Object
		itemsIn := b // the object whose member holds the item list
		itemsKey := "items"
		switch itemsDoc.Kind() {
		case "array":
			items = itemsDoc.Objects()
		case "object":
			p := itemsDoc.Object()
			if pp := p.Object("payload"); pp.Present() {
				p = pp
			}
			if p.String("NextToken") != "" {
				p.Add("NextToken", "the item list has more pages: join every page of getOrderItems into one list")
			}
			id, orderID := p.String("AmazonOrderId"), src.String("AmazonOrderId")
			if id != "" && orderID != "" && id != orderID {
				p.Add("AmazonOrderId", "items of order "+channeljson.Quote(id)+", not of "+channeljson.Quote(orderID))
			}
			items, itemsIn, itemsKey = p.Objects("OrderItems"), p, "OrderItems"
		default:
			fe.Add("items", "must be an object or an array")
			return
		}
		o = convert(src, items, itemsIn, itemsKey)
	})
	if err != nil {
		return nil, err
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return []order.Order{o}, nil
}

// convert maps an order a and its items, the member itemsKey of itemsIn,
// to a canonical order, recording problems in the FieldErrors they were
// read with.
func convert(a channeljson.Object, items []channeljson.Object, itemsIn channeljson.Object, itemsKey string) order.Order {
	o := order.Order{
		Channel:    order.ChannelAmazon,
		ExternalID: a.String("AmazonOrderId"),
		Lines:      make([]order.Line, len(items)),
		Warnings:   make([]order.Warning, 0),
	}
	o.Number = cmp.Or(a.String("SellerOrderId"), o.ExternalID)
	if o.ExternalID == "" {
		a.Add("AmazonOrderId", "required")
	}
	warn := func(code, msg string) { o.Warnings = append(o.Warnings, order.Warning{Code: code, Message: msg}) }

	// The order's currency: OrderTotal's, else the first item price's.
	// Without a known one every amount reads as zero, but the rest is
	// still read, so that values of the wrong kind are found.
	orderTotal := a.Object("OrderTotal")
	currencyAt := orderTotal
	if !orderTotal.Present() {
		for _, it := range items {
			if currencyAt = it.Object("ItemPrice"); currencyAt.Present() {
				break
			}
		}
	}
	var known bool
	if currencyAt.Present() {
		o.Currency, known = currencyAt.Currency("CurrencyCode")
	} else {
		a.Add("OrderTotal", "required: neither the order nor its items state a currency")
	}
	cur := o.Currency
	// amount returns the Money at member key of in, which must be in the
	// order's currency.
	amount := func(in channeljson.Object, key string) int64 {
		m := in.Object(key)
		if !m.Present() {
			return 0
		}
		switch code := m.String("CurrencyCode"); {
		case !known:
			return 0
		case code == cur:
		case code == "":
			m.Add("CurrencyCode", "required")
			return 0
		default:
			m.Add("CurrencyCode", "must be "+cur+", the order's currency, not "+channeljson.Quote(code))
			return 0
		}
		return m.Amount("Amount", cur)
	}

	status := a.String("OrderStatus")
	o.PaymentStatus, o.FulfillmentStatus = statuses(status)
	o.PlacedAt = a.Time("PurchaseDate", "")
	o.UpdatedAt = a.Time("LastUpdateDate", "")
	if bi := a.Object("BuyerInfo"); bi.Present() {
		o.Customer.Name, o.Customer.Email = bi.String("BuyerName"), bi.String("BuyerEmail")
		o.Terms.PONumber = bi.String("PurchaseOrderNumber")
	}
	if ad := a.Object("ShippingAddress"); ad.Present() {
		o.ShippingAddress = canonical(ad)
		o.Customer.Phone = ad.String("Phone")
	}
	if ad := a.Object("BillingAddress"); ad.Present() {
		o.BillingAddress = canonical(ad)
		o.Customer.Phone = cmp.Or(o.Customer.Phone, ad.String("Phone"))
	}

	var fees int64
	for i, it := range items {
		price := amount(it, "ItemPrice")
		l := order.Line{
			SKU:      it.String("SellerSKU"),
			Title:    it.String("Title"),
			Quantity: it.Integer("QuantityOrdered"),
			Discount: amount(it, "PromotionDiscount"),
			Tax:      amount(it, "ItemTax"),
		}
		switch {
		case l.Quantity > 0:
			l.UnitPrice = price / l.Quantity
			if price%l.Quantity != 0 {
				warn("line.unit_price_inexact", it.Path("")+": ItemPrice "+order.FormatAmount(price, cur)+" is not a whole multiple of QuantityOrdered "+
					strconv.FormatInt(l.Quantity, 10)+"; the unit price "+order.FormatAmount(l.UnitPrice, cur)+" is truncated")
			}
		default:
			l.UnitPrice = price
		}
		l.Total = it.Plus(it.Minus(price, l.Discount, "PromotionDiscount"), l.Tax, "ItemTax")
		if l.SKU == "" {
			warn("line.sku_missing", it.Path("")+" has no SellerSKU; its ASIN is "+channeljson.Quote(it.String("ASIN")))
		}
		o.Lines[i] = l

		o.Subtotal = it.Plus(o.Subtotal, price, "ItemPrice")
		o.DiscountTotal = it.Plus(o.DiscountTotal, l.Discount, "PromotionDiscount")
		o.DiscountTotal = it.Plus(o.DiscountTotal, amount(it, "ShippingDiscount"), "ShippingDiscount")
		o.DiscountTotal = it.Plus(o.DiscountTotal, amount(it, "CODFeeDiscount"), "CODFeeDiscount")
		o.TaxTotal = it.Plus(o.TaxTotal, l.Tax, "ItemTax")
		o.TaxTotal = it.Plus(o.TaxTotal, amount(it, "ShippingTax"), "ShippingTax")
		o.ShippingTotal = it.Plus(o.ShippingTotal, amount(it, "ShippingPrice"), "ShippingPrice")
		fees = it.Plus(fees, amount(it, "CODFee"), "CODFee")
		if bi := it.Object("BuyerInfo"); bi.Present() {
			fees = bi.Plus(fees, amount(bi, "GiftWrapPrice"), "GiftWrapPrice")
			o.TaxTotal = bi.Plus(o.TaxTotal, amount(bi, "GiftWrapTax"), "GiftWrapTax")
		}
	}
	if fees != 0 {
		o.ShippingTotal = itemsIn.Plus(o.ShippingTotal, fees, itemsKey)
		warn("totals.fees_in_shipping", "gift wrap and COD fees adding up to "+order.FormatAmount(fees, cur)+" are counted in the shipping total")
	}
	if orderTotal.Present() {
		o.Total = amount(a, "OrderTotal")
	} else {
		o.Total = a.Total("OrderTotal", &o)
		warn("totals.not_stated", "the order has no OrderTotal (status "+channeljson.Quote(status)+"); the total is computed from the items")
	}
	return o
}

// statuses derives the payment and fulfilment status from OrderStatus.
func statuses(status string) (payment, fulfillment string) {
	switch status {
	case "Pending", "PendingAvailability":
		return "pending", "unfulfilled"
	case "Unshipped":
		return "authorized", "unfulfilled"
	case "PartiallyShipped":
		return "authorized", "partial"
	case "Shipped", "InvoiceUnconfirmed":
		return "authorized", "fulfilled"
	case "Canceled":
		return "voided", "cancelled"
	case "Unfulfillable":
		return "authorized", "unfulfillable"
	}
	return "", strings.ToLower(status)
}

// canonical maps an SP-API address; AddressLine3 is joined to Line2.
func canonical(a channeljson.Object) order.Address {
	line2 := a.String("AddressLine2")
	if line3 := a.String("AddressLine3"); line3 != "" {
		line2 = strings.TrimPrefix(line2+", "+line3, ", ")
	}
	return order.Address{
		Name:       a.String("Name"),
		Company:    a.String("CompanyName"),
		Line1:      a.String("AddressLine1"),
		Line2:      line2,
		City:       a.String("City"),
		Region:     a.String("StateOrRegion"),
		PostalCode: a.String("PostalCode"),
		Country:    a.String("CountryCode"),
	}
}
