FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /intake .

FROM gcr.io/distroless/static-debian12
COPY --from=build /intake /usr/local/bin/intake
USER nonroot
ENTRYPOINT ["intake"]
CMD ["serve"]
