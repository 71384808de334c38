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
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// body is the intake envelope; Payload catches a bare SP-API response
// sent without it.
type body struct {
	Order   json.RawMessage `json:"order"`
	Items   json.RawMessage `json:"items"`
	Payload json.RawMessage `json:"payload"`
}

// orderDoc is a getOrder response, its payload, or a bare Order.
type orderDoc struct {
	Payload *amzOrder `json:"payload"`
	amzOrder
}

type amzOrder struct {
	AmazonOrderID   string          `json:"AmazonOrderId"`
	SellerOrderID   string          `json:"SellerOrderId"`
	PurchaseDate    string          `json:"PurchaseDate"`
	LastUpdateDate  string          `json:"LastUpdateDate"`
	OrderStatus     string          `json:"OrderStatus"`
	OrderTotal      *money          `json:"OrderTotal"`
	ShippingAddress *address        `json:"ShippingAddress"`
	BillingAddress  *address        `json:"BillingAddress"`
	BuyerInfo       *buyerInfo      `json:"BuyerInfo"`
	Orders          json.RawMessage `json:"Orders"`
}

type buyerInfo struct {
	BuyerEmail          string `json:"BuyerEmail"`
	BuyerName           string `json:"BuyerName"`
	PurchaseOrderNumber string `json:"PurchaseOrderNumber"`
}

type address struct {
	Name          string `json:"Name"`
	CompanyName   string `json:"CompanyName"`
	AddressLine1  string `json:"AddressLine1"`
	AddressLine2  string `json:"AddressLine2"`
	AddressLine3  string `json:"AddressLine3"`
	City          string `json:"City"`
	StateOrRegion string `json:"StateOrRegion"`
	PostalCode    string `json:"PostalCode"`
	CountryCode   string `json:"CountryCode"`
	Phone         string `json:"Phone"`
}

type money struct {
	CurrencyCode string             `json:"CurrencyCode"`
	Amount       channeljson.Number `json:"Amount"`
}

// itemsDoc is a getOrderItems response or its payload.
type itemsDoc struct {
	Payload *itemsPayload `json:"payload"`
	itemsPayload
}

type itemsPayload struct {
	AmazonOrderID string `json:"AmazonOrderId"`
	NextToken     string `json:"NextToken"`
	OrderItems    []item `json:"OrderItems"`
}

type item struct {
	ASIN              string             `json:"ASIN"`
	SellerSKU         string             `json:"SellerSKU"`
	Title             string             `json:"Title"`
	QuantityOrdered   channeljson.Number `json:"QuantityOrdered"`
	ItemPrice         *money             `json:"ItemPrice"`
	ItemTax           *money             `json:"ItemTax"`
	PromotionDiscount *money             `json:"PromotionDiscount"`
	ShippingPrice     *money             `json:"ShippingPrice"`
	ShippingTax       *money             `json:"ShippingTax"`
	ShippingDiscount  *money             `json:"ShippingDiscount"`
	CODFee            *money             `json:"CODFee"`
	CODFeeDiscount    *money             `json:"CODFeeDiscount"`
	BuyerInfo         *itemBuyer         `json:"BuyerInfo"`
}

type itemBuyer struct {
	GiftWrapPrice *money `json:"GiftWrapPrice"`
	GiftWrapTax   *money `json:"GiftWrapTax"`
}

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
		if err := channeljson.Unmarshal(data, new(json.RawMessage)); err != nil {
			return nil, channeljson.DecodeError(data, "", err)
		}
		return nil, &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want {\"order\": …, \"items\": …}",
			Fields: map[string]string{"$": "must be an object"}}
	}
	var b body
	if err := channeljson.Unmarshal(data, &b); err != nil {
		return nil, channeljson.DecodeError(data, "", err)
	}
	var fe channeljson.FieldErrors
	if !isNull(b.Payload) {
		fe.Add("order", "required: this looks like a bare SP-API response; send {\"order\": getOrder response, \"items\": getOrderItems response}")
		return nil, fe.Err()
	}
	if isNull(b.Order) {
		fe.Add("order", "required")
	}
	if isNull(b.Items) {
		fe.Add("items", "required")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}

	var od orderDoc
	if channeljson.FirstByte(b.Order) != '{' {
		fe.Add("order", "must be an object")
		return nil, fe.Err()
	}
	if err := channeljson.Unmarshal(b.Order, &od); err != nil {
		return nil, channeljson.DecodeError(b.Order, "order", err)
	}
	src, orderPath := &od.amzOrder, "order"
	if od.Payload != nil {
		src, orderPath = od.Payload, "order.payload"
	}
	if !isNull(src.Orders) {
		fe.Add(orderPath+".Orders", "a getOrders list is not accepted: send one order with its items")
		return nil, fe.Err()
	}

	var items []item
	itemsPath := "items"
	switch channeljson.FirstByte(b.Items) {
	case '[':
		if err := channeljson.Unmarshal(b.Items, &items); err != nil {
			return nil, channeljson.DecodeError(b.Items, "items", err)
		}
	case '{':
		var id itemsDoc
		if err := channeljson.Unmarshal(b.Items, &id); err != nil {
			return nil, channeljson.DecodeError(b.Items, "items", err)
		}
		p := &id.itemsPayload
		if id.Payload != nil {
			p, itemsPath = id.Payload, "items.payload"
		}
		if p.NextToken != "" {
			fe.Add(itemsPath+".NextToken", "the item list has more pages: join every page of getOrderItems into one list")
		}
		if p.AmazonOrderID != "" && src.AmazonOrderID != "" && p.AmazonOrderID != src.AmazonOrderID {
			fe.Add(itemsPath+".AmazonOrderId", "items of order "+channeljson.Quote(p.AmazonOrderID)+", not of "+channeljson.Quote(src.AmazonOrderID))
		}
		items = p.OrderItems
		itemsPath += ".OrderItems"
	default:
		fe.Add("items", "must be an object or an array")
		return nil, fe.Err()
	}

	o := convert(src, orderPath, items, itemsPath, &fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return []order.Order{o}, nil
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return raw == nil || string(raw) == "null"
}

// convert maps an order at orderPath and its items at itemsPath to a
// canonical order, recording problems in fe.
func convert(a *amzOrder, orderPath string, items []item, itemsPath string, fe *channeljson.FieldErrors) order.Order {
	at := func(field string) string { return orderPath + "." + field }
	o := order.Order{
		Channel:    order.ChannelAmazon,
		ExternalID: a.AmazonOrderID,
		Number:     cmp.Or(a.SellerOrderID, a.AmazonOrderID),
		Lines:      make([]order.Line, len(items)),
		Warnings:   make([]order.Warning, 0),
	}
	if o.ExternalID == "" {
		fe.Add(at("AmazonOrderId"), "required")
	}
	warn := func(code, msg string) { o.Warnings = append(o.Warnings, order.Warning{Code: code, Message: msg}) }

	// The order's currency: OrderTotal's, else the first item price's.
	switch {
	case a.OrderTotal != nil:
		o.Currency = a.OrderTotal.CurrencyCode
		if !fe.Currency(o.Currency, at("OrderTotal.CurrencyCode")) {
			return o
		}
	default:
		for i := range items {
			if m := items[i].ItemPrice; m != nil {
				o.Currency = m.CurrencyCode
				if !fe.Currency(o.Currency, itemsPath+"["+strconv.Itoa(i)+"].ItemPrice.CurrencyCode") {
					return o
				}
				break
			}
		}
		if o.Currency == "" {
			fe.Add(at("OrderTotal"), "required: neither the order nor its items state a currency")
			return o
		}
	}
	cur := o.Currency
	amount := func(m *money, path string) int64 {
		if m == nil {
			return 0
		}
		switch m.CurrencyCode {
		case cur:
		case "":
			fe.Add(path+".CurrencyCode", "required")
			return 0
		default:
			fe.Add(path+".CurrencyCode", "must be "+cur+", the order's currency, not "+channeljson.Quote(m.CurrencyCode))
			return 0
		}
		return fe.Amount(m.Amount, cur, path+".Amount")
	}

	o.PaymentStatus, o.FulfillmentStatus = statuses(a.OrderStatus)
	o.PlacedAt = fe.Time(a.PurchaseDate, "", at("PurchaseDate"))
	o.UpdatedAt = fe.Time(a.LastUpdateDate, "", at("LastUpdateDate"))
	if bi := a.BuyerInfo; bi != nil {
		o.Customer.Name, o.Customer.Email = bi.BuyerName, bi.BuyerEmail
		o.Terms.PONumber = bi.PurchaseOrderNumber
	}
	if ad := a.ShippingAddress; ad != nil {
		o.ShippingAddress = ad.canonical()
		o.Customer.Phone = ad.Phone
	}
	if ad := a.BillingAddress; ad != nil {
		o.BillingAddress = ad.canonical()
		o.Customer.Phone = cmp.Or(o.Customer.Phone, ad.Phone)
	}

	var fees int64
	sum := func(total *int64, v int64, path string) { *total = fe.Plus(*total, v, path) }
	for i := range items {
		it := &items[i]
		ip := itemsPath + "[" + strconv.Itoa(i) + "]"
		price := amount(it.ItemPrice, ip+".ItemPrice")
		l := order.Line{
			SKU:      it.SellerSKU,
			Title:    it.Title,
			Quantity: fe.Integer(it.QuantityOrdered, ip+".QuantityOrdered"),
			Discount: amount(it.PromotionDiscount, ip+".PromotionDiscount"),
			Tax:      amount(it.ItemTax, ip+".ItemTax"),
		}
		switch {
		case l.Quantity > 0:
			l.UnitPrice = price / l.Quantity
			if price%l.Quantity != 0 {
				warn("line.unit_price_inexact", ip+": ItemPrice "+order.FormatAmount(price, cur)+" is not a whole multiple of QuantityOrdered "+
					strconv.FormatInt(l.Quantity, 10)+"; the unit price "+order.FormatAmount(l.UnitPrice, cur)+" is truncated")
			}
		default:
			l.UnitPrice = price
		}
		l.Total = fe.Plus(fe.Minus(price, l.Discount, ip+".PromotionDiscount"), l.Tax, ip+".ItemTax")
		if l.SKU == "" {
			warn("line.sku_missing", ip+" has no SellerSKU; its ASIN is "+channeljson.Quote(it.ASIN))
		}
		o.Lines[i] = l

		sum(&o.Subtotal, price, ip+".ItemPrice")
		sum(&o.DiscountTotal, l.Discount, ip+".PromotionDiscount")
		sum(&o.DiscountTotal, amount(it.ShippingDiscount, ip+".ShippingDiscount"), ip+".ShippingDiscount")
		sum(&o.DiscountTotal, amount(it.CODFeeDiscount, ip+".CODFeeDiscount"), ip+".CODFeeDiscount")
		sum(&o.TaxTotal, l.Tax, ip+".ItemTax")
		sum(&o.TaxTotal, amount(it.ShippingTax, ip+".ShippingTax"), ip+".ShippingTax")
		sum(&o.ShippingTotal, amount(it.ShippingPrice, ip+".ShippingPrice"), ip+".ShippingPrice")
		sum(&fees, amount(it.CODFee, ip+".CODFee"), ip+".CODFee")
		if bi := it.BuyerInfo; bi != nil {
			sum(&fees, amount(bi.GiftWrapPrice, ip+".BuyerInfo.GiftWrapPrice"), ip+".BuyerInfo.GiftWrapPrice")
			sum(&o.TaxTotal, amount(bi.GiftWrapTax, ip+".BuyerInfo.GiftWrapTax"), ip+".BuyerInfo.GiftWrapTax")
		}
	}
	if fees != 0 {
		sum(&o.ShippingTotal, fees, itemsPath)
		warn("totals.fees_in_shipping", "gift wrap and COD fees adding up to "+order.FormatAmount(fees, cur)+" are counted in the shipping total")
	}
	if a.OrderTotal != nil {
		o.Total = amount(a.OrderTotal, at("OrderTotal"))
	} else {
		tp := at("OrderTotal")
		o.Total = fe.Plus(fe.Plus(fe.Minus(o.Subtotal, o.DiscountTotal, tp), o.ShippingTotal, tp), o.TaxTotal, tp)
		warn("totals.not_stated", "the order has no OrderTotal (status "+channeljson.Quote(a.OrderStatus)+"); the total is computed from the items")
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
func (a *address) canonical() order.Address {
	line2 := a.AddressLine2
	if a.AddressLine3 != "" {
		line2 = strings.TrimPrefix(line2+", "+a.AddressLine3, ", ")
	}
	return order.Address{
		Name:       a.Name,
		Company:    a.CompanyName,
		Line1:      a.AddressLine1,
		Line2:      line2,
		City:       a.City,
		Region:     a.StateOrRegion,
		PostalCode: a.PostalCode,
		Country:    a.CountryCode,
	}
}
